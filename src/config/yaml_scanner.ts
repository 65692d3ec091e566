/**
 * libyaml 0.2.5's scanner, rewritten so that tsproxy sees exactly the token stream (and the syntax
 * errors) nutcracker sees: nutcracker validates its configuration token by token.
 */
import { type Mark, YamlError, YamlErrorKind } from "./yaml_error.ts";

/** libyaml's `yaml_token_type_t`, with its numbers (nutcracker prints them in its messages). */
export enum TokenType {
  StreamStart = 1,
  StreamEnd = 2,
  VersionDirective = 3,
  TagDirective = 4,
  DocumentStart = 5,
  DocumentEnd = 6,
  BlockSequenceStart = 7,
  BlockMappingStart = 8,
  BlockEnd = 9,
  FlowSequenceStart = 10,
  FlowSequenceEnd = 11,
  FlowMappingStart = 12,
  FlowMappingEnd = 13,
  BlockEntry = 14,
  FlowEntry = 15,
  Key = 16,
  Value = 17,
  Alias = 18,
  Anchor = 19,
  Tag = 20,
  Scalar = 21,
}

/** One token; `value` is the scalar text, anchor/alias name, tag suffix or %TAG prefix. */
export interface Token {
  type: TokenType;
  start: Mark;
  value?: string;
  /** Tag handle (`!`, `!!`, `!x!`, or empty for verbatim tags) or %TAG handle. */
  handle?: string;
  /** %YAML version. */
  major?: number;
  minor?: number;
}

interface SimpleKey {
  possible: boolean;
  required: boolean;
  tokenNumber: number;
  line: number;
  column: number;
  index: number;
}

const NUL = 0;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const NEL = 0x85;
const LS = 0x2028;
const PS = 0x2029;
const BOM = 0xfeff;

/** libyaml's longest simple key, in characters. */
const MAX_SIMPLE_KEY = 1024;
/** libyaml's longest %YAML version number, in digits. */
const MAX_VERSION_DIGITS = 9;

function code(ch: string): number {
  return ch.charCodeAt(0);
}
function isOneOf(cp: number, chars: string): boolean {
  return cp !== NUL && chars.includes(String.fromCodePoint(cp));
}
function isBreak(cp: number): boolean {
  return cp === CR || cp === LF || cp === NEL || cp === LS || cp === PS;
}
function isBlank(cp: number): boolean {
  return cp === SPACE || cp === TAB;
}
function isBreakZ(cp: number): boolean {
  return isBreak(cp) || cp === NUL;
}
function isBlankZ(cp: number): boolean {
  return isBlank(cp) || isBreakZ(cp);
}
function isDigit(cp: number): boolean {
  return cp >= 0x30 && cp <= 0x39;
}
function isHex(cp: number): boolean {
  return isDigit(cp) || (cp >= 0x41 && cp <= 0x46) || (cp >= 0x61 && cp <= 0x66);
}
/** libyaml's "alpha": the characters of anchors, directive names and tag handles. */
function isAlpha(cp: number): boolean {
  return isDigit(cp) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f ||
    cp === 0x2d;
}

/** Length of the UTF-8 sequence a leading byte starts, 0 if it cannot lead one. */
function utf8Width(octet: number): number {
  if ((octet & 0x80) === 0) return 1;
  if ((octet & 0xe0) === 0xc0) return 2;
  if ((octet & 0xf0) === 0xe0) return 3;
  return (octet & 0xf8) === 0xf0 ? 4 : 0;
}

/** Characters that cannot start a plain scalar (in block context, `-?:` may when followed by non-space). */
const INDICATORS = "-?:,[]{}#&*!|>'\"%@`";
/** Characters a tag URI may contain outside `!<...>`. */
const URI_CHARS = ";/?:@&=+$.%!~*'()";

/**
 * Turns YAML code points (see readYamlText) into libyaml's tokens, lazily: like libyaml, it only
 * scans as far as needed to decide the next token, so errors surface in the same order.
 */
export class Scanner {
  private readonly src: number[];
  private pos = 0;
  private line = 0;
  private column = 0;
  private readonly queue: Token[] = [];
  private tokensParsed = 0;
  private tokenAvailable = false;
  private streamStartProduced = false;
  private streamEndProduced = false;
  private indent = -1;
  private readonly indents: number[] = [];
  private simpleKeyAllowed = false;
  private readonly simpleKeys: SimpleKey[] = [];
  private flowLevel = 0;

  constructor(codePoints: number[]) {
    this.src = codePoints;
  }

  /** The next token without consuming it (libyaml's PEEK_TOKEN). */
  peek(): Token {
    if (!this.tokenAvailable) this.fetchMoreTokens();
    return this.queue[0];
  }

  /** Consumes the token `peek()` returned (libyaml's SKIP_TOKEN). */
  skipToken(): void {
    const token = this.queue.shift()!;
    this.tokenAvailable = false;
    this.tokensParsed++;
    if (token.type === TokenType.StreamEnd) this.streamEndProduced = true;
  }

  /** The next token, or null once STREAM-END has been returned (libyaml's yaml_parser_scan). */
  scan(): Token | null {
    if (this.streamEndProduced) return null;
    const token = this.peek();
    this.skipToken();
    return token;
  }

  private ch(offset = 0): number {
    return this.src[this.pos + offset] ?? NUL;
  }
  private is(ch: string, offset = 0): boolean {
    return this.ch(offset) === code(ch);
  }
  private mark(): Mark {
    return { line: this.line, column: this.column };
  }
  private fail(problem: string): never {
    throw new YamlError(YamlErrorKind.Scanner, problem, this.mark());
  }
  private skip(): void {
    this.pos++;
    this.column++;
  }
  /** Consumes one character and returns it. */
  private take(): string {
    const s = String.fromCodePoint(this.ch());
    this.skip();
    return s;
  }
  /** Consumes a line break (CR LF counts as one); returns it normalised as libyaml does, or "" if none. */
  private takeBreak(): string {
    const cp = this.ch();
    let out: string;
    if (cp === CR && this.ch(1) === LF) {
      this.pos += 2;
      out = "\n";
    } else if (cp === CR || cp === LF || cp === NEL) {
      this.pos++;
      out = "\n";
    } else if (cp === LS || cp === PS) {
      this.pos++;
      out = String.fromCodePoint(cp);
    } else return "";
    this.column = 0;
    this.line++;
    return out;
  }
  private isDocumentIndicator(ch: string): boolean {
    return this.column === 0 && this.is(ch, 0) && this.is(ch, 1) && this.is(ch, 2) && isBlankZ(this.ch(3));
  }
  private token(type: TokenType, start: Mark, extra: Partial<Token> = {}): Token {
    return { type, start, ...extra };
  }

  private fetchMoreTokens(): void {
    for (;;) {
      let need = this.queue.length === 0;
      if (!need) {
        this.staleSimpleKeys();
        need = this.simpleKeys.some((k) => k.possible && k.tokenNumber === this.tokensParsed);
      }
      if (!need) break;
      this.fetchNextToken();
    }
    this.tokenAvailable = true;
  }

  private fetchNextToken(): void {
    if (!this.streamStartProduced) return this.fetchStreamStart();
    this.scanToNextToken();
    this.staleSimpleKeys();
    this.unrollIndent(this.column);
    const cp = this.ch();
    const next = this.ch(1);
    if (cp === NUL) return this.fetchStreamEnd();
    if (this.column === 0 && cp === code("%")) return this.fetchDirective();
    if (this.isDocumentIndicator("-")) return this.fetchDocumentIndicator(TokenType.DocumentStart);
    if (this.isDocumentIndicator(".")) return this.fetchDocumentIndicator(TokenType.DocumentEnd);
    switch (String.fromCodePoint(cp)) {
      case "[":
        return this.fetchFlowCollectionStart(TokenType.FlowSequenceStart);
      case "{":
        return this.fetchFlowCollectionStart(TokenType.FlowMappingStart);
      case "]":
        return this.fetchFlowCollectionEnd(TokenType.FlowSequenceEnd);
      case "}":
        return this.fetchFlowCollectionEnd(TokenType.FlowMappingEnd);
      case ",":
        return this.fetchFlowEntry();
      case "-":
        if (isBlankZ(next)) return this.fetchBlockEntry();
        break;
      case "?":
        if (this.flowLevel > 0 || isBlankZ(next)) return this.fetchKey();
        break;
      case ":":
        if (this.flowLevel > 0 || isBlankZ(next)) return this.fetchValue();
        break;
      case "*":
        return this.fetchAnchor(TokenType.Alias);
      case "&":
        return this.fetchAnchor(TokenType.Anchor);
      case "!":
        return this.fetchTag();
      case "|":
        if (this.flowLevel === 0) return this.fetchBlockScalar(true);
        break;
      case ">":
        if (this.flowLevel === 0) return this.fetchBlockScalar(false);
        break;
      case "'":
        return this.fetchFlowScalar(true);
      case '"':
        return this.fetchFlowScalar(false);
    }
    const plain = !(isBlankZ(cp) || isOneOf(cp, INDICATORS)) ||
      (cp === code("-") && !isBlank(next)) ||
      (this.flowLevel === 0 && (cp === code("?") || cp === code(":")) && !isBlankZ(next));
    if (plain) return this.fetchPlainScalar();
    this.fail("found character that cannot start any token");
  }

  /** Drops simple-key candidates that can no longer be keys (other line, or too far back). */
  private staleSimpleKeys(): void {
    for (const key of this.simpleKeys) {
      if (key.possible && (key.line < this.line || key.index + MAX_SIMPLE_KEY < this.pos)) {
        if (key.required) this.fail("could not find expected ':'");
        key.possible = false;
      }
    }
  }

  private saveSimpleKey(): void {
    // A key is required where block indentation demands one: a line starting at the indent column.
    const required = this.flowLevel === 0 && this.indent === this.column;
    if (!this.simpleKeyAllowed) return;
    this.removeSimpleKey();
    this.simpleKeys[this.simpleKeys.length - 1] = {
      possible: true,
      required,
      tokenNumber: this.tokensParsed + this.queue.length,
      line: this.line,
      column: this.column,
      index: this.pos,
    };
  }

  private removeSimpleKey(): void {
    const key = this.simpleKeys[this.simpleKeys.length - 1];
    if (key.possible && key.required) this.fail("could not find expected ':'");
    key.possible = false;
  }

  private emptySimpleKey(): SimpleKey {
    return { possible: false, required: false, tokenNumber: 0, line: 0, column: 0, index: 0 };
  }

  private increaseFlowLevel(): void {
    this.simpleKeys.push(this.emptySimpleKey());
    this.flowLevel++;
  }

  private decreaseFlowLevel(): void {
    if (this.flowLevel === 0) return;
    this.flowLevel--;
    this.simpleKeys.pop();
  }

  /** Opens a block collection when `column` is deeper than the current indentation. */
  private rollIndent(column: number, tokenNumber: number | null, type: TokenType, start: Mark): void {
    if (this.flowLevel > 0 || this.indent >= column) return;
    this.indents.push(this.indent);
    this.indent = column;
    const token = this.token(type, start);
    if (tokenNumber === null) this.queue.push(token);
    else this.queue.splice(tokenNumber - this.tokensParsed, 0, token);
  }

  /** Closes block collections deeper than `column`. */
  private unrollIndent(column: number): void {
    if (this.flowLevel > 0) return;
    while (this.indent > column) {
      this.queue.push(this.token(TokenType.BlockEnd, this.mark()));
      this.indent = this.indents.pop()!;
    }
  }

  private fetchStreamStart(): void {
    this.indent = -1;
    this.simpleKeys.push(this.emptySimpleKey());
    this.simpleKeyAllowed = true;
    this.streamStartProduced = true;
    this.queue.push(this.token(TokenType.StreamStart, this.mark()));
  }

  private fetchStreamEnd(): void {
    if (this.column !== 0) {
      this.column = 0;
      this.line++;
    }
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    this.queue.push(this.token(TokenType.StreamEnd, this.mark()));
  }

  private fetchDirective(): void {
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    this.queue.push(this.scanDirective());
  }

  private fetchDocumentIndicator(type: TokenType): void {
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    const start = this.mark();
    this.skip();
    this.skip();
    this.skip();
    this.queue.push(this.token(type, start));
  }

  private fetchFlowCollectionStart(type: TokenType): void {
    this.saveSimpleKey();
    this.increaseFlowLevel();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.queue.push(this.token(type, start));
  }

  private fetchFlowCollectionEnd(type: TokenType): void {
    this.removeSimpleKey();
    this.decreaseFlowLevel();
    this.simpleKeyAllowed = false;
    const start = this.mark();
    this.skip();
    this.queue.push(this.token(type, start));
  }

  private fetchFlowEntry(): void {
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.queue.push(this.token(TokenType.FlowEntry, start));
  }

  private fetchBlockEntry(): void {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) this.fail("block sequence entries are not allowed in this context");
      this.rollIndent(this.column, null, TokenType.BlockSequenceStart, this.mark());
    }
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.queue.push(this.token(TokenType.BlockEntry, start));
  }

  private fetchKey(): void {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) this.fail("mapping keys are not allowed in this context");
      this.rollIndent(this.column, null, TokenType.BlockMappingStart, this.mark());
    }
    this.removeSimpleKey();
    this.simpleKeyAllowed = this.flowLevel === 0;
    const start = this.mark();
    this.skip();
    this.queue.push(this.token(TokenType.Key, start));
  }

  private fetchValue(): void {
    const key = this.simpleKeys[this.simpleKeys.length - 1];
    if (key.possible) {
      // The candidate turned out to be a key: insert KEY (and maybe BLOCK-MAPPING-START) before it.
      const start = { line: key.line, column: key.column };
      this.queue.splice(key.tokenNumber - this.tokensParsed, 0, this.token(TokenType.Key, start));
      this.rollIndent(key.column, key.tokenNumber, TokenType.BlockMappingStart, start);
      key.possible = false;
      this.simpleKeyAllowed = false;
    } else {
      if (this.flowLevel === 0) {
        if (!this.simpleKeyAllowed) this.fail("mapping values are not allowed in this context");
        this.rollIndent(this.column, null, TokenType.BlockMappingStart, this.mark());
      }
      this.simpleKeyAllowed = this.flowLevel === 0;
    }
    const start = this.mark();
    this.skip();
    this.queue.push(this.token(TokenType.Value, start));
  }

  private fetchAnchor(type: TokenType.Alias | TokenType.Anchor): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.queue.push(this.scanAnchor(type));
  }

  private fetchTag(): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.queue.push(this.scanTag());
  }

  private fetchBlockScalar(literal: boolean): void {
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    this.queue.push(this.scanBlockScalar(literal));
  }

  private fetchFlowScalar(single: boolean): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.queue.push(this.scanFlowScalar(single));
  }

  private fetchPlainScalar(): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.queue.push(this.scanPlainScalar());
  }

  /** Skips blanks, comments and line breaks up to the next token. */
  private scanToNextToken(): void {
    for (;;) {
      if (this.column === 0 && this.ch() === BOM) this.skip();
      // Tabs are fine in flow context and after a key, not where they could look like indentation.
      while (this.is(" ") || ((this.flowLevel > 0 || !this.simpleKeyAllowed) && this.ch() === TAB)) {
        this.skip();
      }
      if (this.is("#")) { while (!isBreakZ(this.ch())) this.skip(); }
      if (!isBreak(this.ch())) break;
      this.takeBreak();
      if (this.flowLevel === 0) this.simpleKeyAllowed = true;
    }
  }

  private skipToLineEnd(): void {
    while (isBlank(this.ch())) this.skip();
    if (this.is("#")) { while (!isBreakZ(this.ch())) this.skip(); }
  }

  private scanDirective(): Token {
    const start = this.mark();
    this.skip();
    let name = "";
    while (isAlpha(this.ch())) name += this.take();
    if (name === "") this.fail("could not find expected directive name");
    if (!isBlankZ(this.ch())) this.fail("found unexpected non-alphabetical character");
    let token: Token;
    if (name === "YAML") {
      while (isBlank(this.ch())) this.skip();
      const major = this.scanVersionNumber();
      if (!this.is(".")) this.fail("did not find expected digit or '.' character");
      this.skip();
      token = this.token(TokenType.VersionDirective, start, { major, minor: this.scanVersionNumber() });
    } else if (name === "TAG") {
      while (isBlank(this.ch())) this.skip();
      const handle = this.scanTagHandle(true);
      if (!isBlank(this.ch())) this.fail("did not find expected whitespace");
      while (isBlank(this.ch())) this.skip();
      const prefix = this.scanTagUri(true, "");
      if (!isBlankZ(this.ch())) this.fail("did not find expected whitespace or line break");
      token = this.token(TokenType.TagDirective, start, { handle, value: prefix });
    } else this.fail("found unknown directive name");
    this.skipToLineEnd();
    if (!isBreakZ(this.ch())) this.fail("did not find expected comment or line break");
    this.takeBreak();
    return token;
  }

  private scanVersionNumber(): number {
    let value = 0;
    let length = 0;
    while (isDigit(this.ch())) {
      if (++length > MAX_VERSION_DIGITS) this.fail("found extremely long version number");
      value = value * 10 + this.ch() - 0x30;
      this.skip();
    }
    if (length === 0) this.fail("did not find expected version number");
    return value;
  }

  private scanAnchor(type: TokenType.Alias | TokenType.Anchor): Token {
    const start = this.mark();
    this.skip();
    let name = "";
    while (isAlpha(this.ch())) name += this.take();
    if (name === "" || !(isBlankZ(this.ch()) || isOneOf(this.ch(), "?:,]}%@`"))) {
      this.fail("did not find expected alphabetic or numeric character");
    }
    return this.token(type, start, { value: name });
  }

  private scanTag(): Token {
    const start = this.mark();
    let handle: string;
    let suffix: string;
    if (this.is("<", 1)) {
      handle = "";
      this.skip();
      this.skip();
      suffix = this.scanTagUri(true, "");
      if (!this.is(">")) this.fail("did not find the expected '>'");
      this.skip();
    } else {
      handle = this.scanTagHandle(false);
      if (handle.length > 1 && handle.endsWith("!")) {
        suffix = this.scanTagUri(false, "");
      } else {
        // Not a handle after all: what was read is the start of the suffix of a `!suffix` tag.
        suffix = this.scanTagUri(false, handle);
        handle = "!";
        if (suffix === "") [handle, suffix] = ["", "!"];
      }
    }
    if (!isBlankZ(this.ch()) && !(this.flowLevel > 0 && this.is(","))) {
      this.fail("did not find expected whitespace or line break");
    }
    return this.token(TokenType.Tag, start, { handle, value: suffix });
  }

  private scanTagHandle(directive: boolean): string {
    if (!this.is("!")) this.fail("did not find expected '!'");
    let handle = this.take();
    while (isAlpha(this.ch())) handle += this.take();
    if (this.is("!")) handle += this.take();
    else if (directive && handle !== "!") this.fail("did not find expected '!'");
    return handle;
  }

  /**
   * Scans a tag URI; `head` is an already read `!word` whose word starts the URI. `,[]` belong to
   * the URI only in verbatim tags and %TAG prefixes (`withFlowIndicators`).
   */
  private scanTagUri(withFlowIndicators: boolean, head: string): string {
    let length = head.length;
    let uri = head.slice(1);
    while (
      isAlpha(this.ch()) || isOneOf(this.ch(), URI_CHARS) || (withFlowIndicators && isOneOf(this.ch(), ",[]"))
    ) {
      uri += this.is("%") ? this.scanUriEscapes() : this.take();
      length++;
    }
    if (length === 0) this.fail("did not find expected tag URI");
    return uri;
  }

  /** Decodes `%XX` escapes forming one UTF-8 character. */
  private scanUriEscapes(): string {
    const bytes: number[] = [];
    let width = 0;
    do {
      if (!(this.is("%") && isHex(this.ch(1)) && isHex(this.ch(2)))) {
        this.fail("did not find URI escaped octet");
      }
      const octet = parseInt(String.fromCodePoint(this.ch(1), this.ch(2)), 16);
      if (width === 0) {
        width = utf8Width(octet);
        if (width === 0) this.fail("found an incorrect leading UTF-8 octet");
      } else if ((octet & 0xc0) !== 0x80) {
        this.fail("found an incorrect trailing UTF-8 octet");
      }
      bytes.push(octet);
      this.skip();
      this.skip();
      this.skip();
    } while (--width > 0);
    return new TextDecoder().decode(new Uint8Array(bytes));
  }

  private scanBlockScalar(literal: boolean): Token {
    const start = this.mark();
    this.skip();
    let chomping = 0;
    let increment = 0;
    const readIncrement = () => {
      if (this.is("0")) this.fail("found an indentation indicator equal to 0");
      increment = this.ch() - 0x30;
      this.skip();
    };
    if (this.is("+") || this.is("-")) {
      chomping = this.is("+") ? 1 : -1;
      this.skip();
      if (isDigit(this.ch())) readIncrement();
    } else if (isDigit(this.ch())) {
      readIncrement();
      if (this.is("+") || this.is("-")) {
        chomping = this.is("+") ? 1 : -1;
        this.skip();
      }
    }
    this.skipToLineEnd();
    if (!isBreakZ(this.ch())) this.fail("did not find expected comment or line break");
    this.takeBreak();
    let indent = increment === 0 ? 0 : this.indent >= 0 ? this.indent + increment : increment;
    let text = "";
    let leadingBreak = "";
    let leadingBlank = false;
    let trailingBreaks: string;
    [indent, trailingBreaks] = this.scanBlockScalarBreaks(indent);
    while (this.column === indent && this.ch() !== NUL) {
      const trailingBlank = isBlank(this.ch());
      // Folded scalars join lines with a space unless blank lines or indented lines intervene.
      if (!literal && leadingBreak.startsWith("\n") && !leadingBlank && !trailingBlank) {
        if (trailingBreaks === "") text += " ";
      } else text += leadingBreak;
      leadingBreak = "";
      text += trailingBreaks;
      leadingBlank = isBlank(this.ch());
      while (!isBreakZ(this.ch())) text += this.take();
      leadingBreak = this.takeBreak();
      [indent, trailingBreaks] = this.scanBlockScalarBreaks(indent);
    }
    if (chomping !== -1) text += leadingBreak;
    if (chomping === 1) text += trailingBreaks;
    return this.token(TokenType.Scalar, start, { value: text });
  }

  /** Skips indentation and empty lines of a block scalar; settles its indentation if still 0. */
  private scanBlockScalarBreaks(indent: number): [number, string] {
    let maxIndent = 0;
    let breaks = "";
    for (;;) {
      while ((indent === 0 || this.column < indent) && this.is(" ")) this.skip();
      if (this.column > maxIndent) maxIndent = this.column;
      if ((indent === 0 || this.column < indent) && this.ch() === TAB) {
        this.fail("found a tab character where an indentation space is expected");
      }
      if (!isBreak(this.ch())) break;
      breaks += this.takeBreak();
    }
    if (indent === 0) indent = Math.max(maxIndent, this.indent + 1, 1);
    return [indent, breaks];
  }

  private scanFlowScalar(single: boolean): Token {
    const start = this.mark();
    const quote = single ? "'" : '"';
    this.skip();
    let text = "";
    for (;;) {
      if (this.isDocumentIndicator("-") || this.isDocumentIndicator(".")) {
        this.fail("found unexpected document indicator");
      }
      if (this.ch() === NUL) this.fail("found unexpected end of stream");
      let leadingBlanks = false;
      while (!isBlankZ(this.ch())) {
        if (single && this.is("'") && this.is("'", 1)) {
          text += "'";
          this.skip();
          this.skip();
        } else if (this.is(quote)) {
          break;
        } else if (!single && this.is("\\") && isBreak(this.ch(1))) {
          this.skip();
          this.takeBreak();
          leadingBlanks = true;
          break;
        } else if (!single && this.is("\\")) {
          text += this.scanEscape();
        } else {
          text += this.take();
        }
      }
      if (this.is(quote)) break;
      let whitespaces = "";
      let leadingBreak = "";
      let trailingBreaks = "";
      while (isBlank(this.ch()) || isBreak(this.ch())) {
        if (isBlank(this.ch())) {
          if (leadingBlanks) this.skip();
          else whitespaces += this.take();
        } else if (!leadingBlanks) {
          whitespaces = "";
          leadingBreak = this.takeBreak();
          leadingBlanks = true;
        } else {
          trailingBreaks += this.takeBreak();
        }
      }
      text += leadingBlanks ? this.fold(leadingBreak, trailingBreaks) : whitespaces;
    }
    this.skip();
    return this.token(TokenType.Scalar, start, { value: text });
  }

  /** YAML line folding: one break becomes a space, further breaks are kept. */
  private fold(leadingBreak: string, trailingBreaks: string): string {
    if (leadingBreak.startsWith("\n")) return trailingBreaks === "" ? " " : trailingBreaks;
    return leadingBreak + trailingBreaks;
  }

  private scanEscape(): string {
    const simple: Record<string, string> = {
      "0": "\0",
      "a": "\x07",
      "b": "\x08",
      "t": "\t",
      "\t": "\t",
      "n": "\n",
      "v": "\x0b",
      "f": "\x0c",
      "r": "\r",
      "e": "\x1b",
      " ": " ",
      '"': '"',
      "/": "/",
      "\\": "\\",
      "N": "\x85",
      "_": "\xa0",
      "L": "\u2028",
      "P": "\u2029",
    };
    const lengths: Record<string, number> = { x: 2, u: 4, U: 8 };
    const kind = String.fromCodePoint(this.ch(1));
    if (kind in simple) {
      this.skip();
      this.skip();
      return simple[kind];
    }
    const length = lengths[kind];
    if (length === undefined) this.fail("found unknown escape character");
    this.skip();
    this.skip();
    let value = 0;
    for (let i = 0; i < length; i++) {
      if (!isHex(this.ch(i))) this.fail("did not find expected hexdecimal number");
      value = value * 16 + parseInt(String.fromCodePoint(this.ch(i)), 16);
    }
    if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff) {
      this.fail("found invalid Unicode character escape code");
    }
    for (let i = 0; i < length; i++) this.skip();
    return String.fromCodePoint(value);
  }

  private scanPlainScalar(): Token {
    const start = this.mark();
    const indent = this.indent + 1;
    let text = "";
    let leadingBreak = "";
    let trailingBreaks = "";
    let whitespaces = "";
    let leadingBlanks = false;
    for (;;) {
      if (this.isDocumentIndicator("-") || this.isDocumentIndicator(".")) break;
      if (this.is("#")) break;
      while (!isBlankZ(this.ch())) {
        if (this.flowLevel > 0 && this.is(":") && isOneOf(this.ch(1), ",?[]{}")) {
          this.fail("found unexpected ':'");
        }
        if (
          (this.is(":") && isBlankZ(this.ch(1))) || (this.flowLevel > 0 && isOneOf(this.ch(), ",[]{}"))
        ) break;
        if (leadingBlanks) {
          text += this.fold(leadingBreak, trailingBreaks);
          leadingBreak = "";
          trailingBreaks = "";
          leadingBlanks = false;
        } else {
          text += whitespaces;
          whitespaces = "";
        }
        text += this.take();
      }
      if (!(isBlank(this.ch()) || isBreak(this.ch()))) break;
      while (isBlank(this.ch()) || isBreak(this.ch())) {
        if (isBlank(this.ch())) {
          if (leadingBlanks && this.column < indent && this.ch() === TAB) {
            this.fail("found a tab character that violates indentation");
          }
          if (leadingBlanks) this.skip();
          else whitespaces += this.take();
        } else if (!leadingBlanks) {
          whitespaces = "";
          leadingBreak = this.takeBreak();
          leadingBlanks = true;
        } else {
          trailingBreaks += this.takeBreak();
        }
      }
      if (this.flowLevel === 0 && this.column < indent) break;
    }
    // A plain scalar that ended at a line break leaves the scanner at a line start: keys may follow.
    if (leadingBlanks) this.simpleKeyAllowed = true;
    return this.token(TokenType.Scalar, start, { value: text });
  }
}
