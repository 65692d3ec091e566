/**
 * libyaml 0.2.5's event parser on top of Scanner: the same events, the same parser errors (nutcracker
 * walks these events to validate and read its configuration).
 */
import { type Mark, YamlError, YamlErrorKind } from "./yaml_error.ts";
import { type Scanner, type Token, TokenType } from "./yaml_scanner.ts";

/** libyaml's `yaml_event_type_t`, with its numbers. */
export enum EventType {
  StreamStart = 1,
  StreamEnd = 2,
  DocumentStart = 3,
  DocumentEnd = 4,
  Alias = 5,
  Scalar = 6,
  SequenceStart = 7,
  SequenceEnd = 8,
  MappingStart = 9,
  MappingEnd = 10,
}

/** One event; `value` is the scalar text, `anchor` the anchor defined (or, for aliases, referenced). */
export interface YamlEvent {
  type: EventType;
  start: Mark;
  value?: string;
  anchor?: string;
}

enum State {
  StreamStart,
  ImplicitDocumentStart,
  DocumentStart,
  DocumentContent,
  DocumentEnd,
  BlockNode,
  BlockSequenceFirstEntry,
  BlockSequenceEntry,
  IndentlessSequenceEntry,
  BlockMappingFirstKey,
  BlockMappingKey,
  BlockMappingValue,
  FlowSequenceFirstEntry,
  FlowSequenceEntry,
  FlowSequenceEntryMappingKey,
  FlowSequenceEntryMappingValue,
  FlowSequenceEntryMappingEnd,
  FlowMappingFirstKey,
  FlowMappingKey,
  FlowMappingValue,
  FlowMappingEmptyValue,
  End,
}

/** The tag handles every document knows without a %TAG directive. */
const DEFAULT_TAG_HANDLES = ["!", "!!"];

/** Turns a Scanner's tokens into libyaml's events, one at a time. */
export class Parser {
  private state = State.StreamStart;
  private readonly states: State[] = [];
  /** Tag handles declared for the current document. */
  private tagHandles: string[] = [];

  constructor(private readonly scanner: Scanner) {}

  /** The next event, or null after STREAM-END (libyaml's yaml_parser_parse). */
  next(): YamlEvent | null {
    switch (this.state) {
      case State.StreamStart:
        return this.streamStart();
      case State.ImplicitDocumentStart:
        return this.documentStart(true);
      case State.DocumentStart:
        return this.documentStart(false);
      case State.DocumentContent:
        return this.documentContent();
      case State.DocumentEnd:
        return this.documentEnd();
      case State.BlockNode:
        return this.node(true, false);
      case State.BlockSequenceFirstEntry:
        return this.blockSequenceEntry(true);
      case State.BlockSequenceEntry:
        return this.blockSequenceEntry(false);
      case State.IndentlessSequenceEntry:
        return this.indentlessSequenceEntry();
      case State.BlockMappingFirstKey:
        return this.blockMappingKey(true);
      case State.BlockMappingKey:
        return this.blockMappingKey(false);
      case State.BlockMappingValue:
        return this.blockMappingValue();
      case State.FlowSequenceFirstEntry:
        return this.flowSequenceEntry(true);
      case State.FlowSequenceEntry:
        return this.flowSequenceEntry(false);
      case State.FlowSequenceEntryMappingKey:
        return this.flowSequenceEntryMappingKey();
      case State.FlowSequenceEntryMappingValue:
        return this.flowSequenceEntryMappingValue();
      case State.FlowSequenceEntryMappingEnd:
        this.state = State.FlowSequenceEntry;
        return this.event(EventType.MappingEnd, this.peek().start);
      case State.FlowMappingFirstKey:
        return this.flowMappingKey(true);
      case State.FlowMappingKey:
        return this.flowMappingKey(false);
      case State.FlowMappingValue:
        return this.flowMappingValue(false);
      case State.FlowMappingEmptyValue:
        return this.flowMappingValue(true);
      case State.End:
        return null;
    }
  }

  private peek(): Token {
    return this.scanner.peek();
  }
  private skip(): void {
    this.scanner.skipToken();
  }
  private fail(problem: string, mark: Mark): never {
    throw new YamlError(YamlErrorKind.Parser, problem, mark);
  }
  private event(type: EventType, start: Mark, extra: Partial<YamlEvent> = {}): YamlEvent {
    return { type, start, ...extra };
  }
  private popState(): void {
    this.state = this.states.pop()!;
  }

  private streamStart(): YamlEvent {
    const token = this.peek();
    if (token.type !== TokenType.StreamStart) this.fail("did not find expected <stream-start>", token.start);
    this.state = State.ImplicitDocumentStart;
    this.skip();
    return this.event(EventType.StreamStart, token.start);
  }

  private documentStart(implicit: boolean): YamlEvent {
    let token = this.peek();
    if (!implicit) {
      while (token.type === TokenType.DocumentEnd) {
        this.skip();
        token = this.peek();
      }
    }
    const directive = token.type === TokenType.VersionDirective || token.type === TokenType.TagDirective;
    if (
      implicit && !directive && token.type !== TokenType.DocumentStart && token.type !== TokenType.StreamEnd
    ) {
      this.processDirectives();
      this.states.push(State.DocumentEnd);
      this.state = State.BlockNode;
      return this.event(EventType.DocumentStart, token.start);
    }
    if (token.type !== TokenType.StreamEnd) {
      this.processDirectives();
      token = this.peek();
      if (token.type !== TokenType.DocumentStart) {
        this.fail("did not find expected <document start>", token.start);
      }
      this.states.push(State.DocumentEnd);
      this.state = State.DocumentContent;
      this.skip();
      return this.event(EventType.DocumentStart, token.start);
    }
    this.state = State.End;
    this.skip();
    return this.event(EventType.StreamEnd, token.start);
  }

  private processDirectives(): void {
    let version = false;
    const handles: string[] = [];
    for (let token = this.peek();; token = this.peek()) {
      if (token.type === TokenType.VersionDirective) {
        if (version) this.fail("found duplicate %YAML directive", token.start);
        if (token.major !== 1 || (token.minor !== 1 && token.minor !== 2)) {
          this.fail("found incompatible YAML document", token.start);
        }
        version = true;
      } else if (token.type === TokenType.TagDirective) {
        if (handles.includes(token.handle!)) this.fail("found duplicate %TAG directive", token.start);
        handles.push(token.handle!);
      } else break;
      this.skip();
    }
    this.tagHandles = [...handles, ...DEFAULT_TAG_HANDLES];
  }

  private documentContent(): YamlEvent {
    const token = this.peek();
    const type = token.type;
    if (
      type === TokenType.VersionDirective || type === TokenType.TagDirective ||
      type === TokenType.DocumentStart ||
      type === TokenType.DocumentEnd || type === TokenType.StreamEnd
    ) {
      this.popState();
      return this.emptyScalar(token.start);
    }
    return this.node(true, false);
  }

  private documentEnd(): YamlEvent {
    const token = this.peek();
    if (token.type === TokenType.DocumentEnd) this.skip();
    this.tagHandles = [];
    this.state = State.DocumentStart;
    return this.event(EventType.DocumentEnd, token.start);
  }

  private emptyScalar(start: Mark): YamlEvent {
    return this.event(EventType.Scalar, start, { value: "" });
  }

  private node(block: boolean, indentlessSequence: boolean): YamlEvent {
    let token = this.peek();
    const start = token.start;
    if (token.type === TokenType.Alias) {
      this.popState();
      this.skip();
      return this.event(EventType.Alias, start, { anchor: token.value });
    }
    let anchor: string | undefined;
    let tag: Token | undefined;
    for (let i = 0; i < 2; i++) {
      if (token.type === TokenType.Anchor && anchor === undefined) anchor = token.value;
      else if (token.type === TokenType.Tag && tag === undefined) tag = token;
      else break;
      this.skip();
      token = this.peek();
    }
    if (tag !== undefined && tag.handle !== "" && !this.tagHandles.includes(tag.handle!)) {
      this.fail("found undefined tag handle", tag.start);
    }
    const props = anchor === undefined ? {} : { anchor };
    if (indentlessSequence && token.type === TokenType.BlockEntry) {
      this.state = State.IndentlessSequenceEntry;
      return this.event(EventType.SequenceStart, start, props);
    }
    switch (token.type) {
      case TokenType.Scalar:
        this.popState();
        this.skip();
        return this.event(EventType.Scalar, start, { ...props, value: token.value });
      case TokenType.FlowSequenceStart:
        this.state = State.FlowSequenceFirstEntry;
        return this.event(EventType.SequenceStart, start, props);
      case TokenType.FlowMappingStart:
        this.state = State.FlowMappingFirstKey;
        return this.event(EventType.MappingStart, start, props);
    }
    if (block && token.type === TokenType.BlockSequenceStart) {
      this.state = State.BlockSequenceFirstEntry;
      return this.event(EventType.SequenceStart, start, props);
    }
    if (block && token.type === TokenType.BlockMappingStart) {
      this.state = State.BlockMappingFirstKey;
      return this.event(EventType.MappingStart, start, props);
    }
    if (anchor !== undefined || tag !== undefined) {
      this.popState();
      return this.event(EventType.Scalar, start, { ...props, value: "" });
    }
    this.fail("did not find expected node content", token.start);
  }

  /** After an indicator: an empty node when `closers` follows, else a nested node. */
  private entryNode(closers: TokenType[], next: State, block: boolean, indentless: boolean): YamlEvent {
    const token = this.peek();
    if (closers.includes(token.type)) {
      this.state = next;
      return this.emptyScalar(token.start);
    }
    this.states.push(next);
    return this.node(block, indentless);
  }

  private blockSequenceEntry(first: boolean): YamlEvent {
    if (first) this.skip();
    const token = this.peek();
    if (token.type === TokenType.BlockEntry) {
      this.skip();
      return this.entryNode(
        [TokenType.BlockEntry, TokenType.BlockEnd],
        State.BlockSequenceEntry,
        true,
        false,
      );
    }
    if (token.type === TokenType.BlockEnd) {
      this.popState();
      this.skip();
      return this.event(EventType.SequenceEnd, token.start);
    }
    this.fail("did not find expected '-' indicator", token.start);
  }

  private indentlessSequenceEntry(): YamlEvent {
    const token = this.peek();
    if (token.type === TokenType.BlockEntry) {
      this.skip();
      const closers = [TokenType.BlockEntry, TokenType.Key, TokenType.Value, TokenType.BlockEnd];
      return this.entryNode(closers, State.IndentlessSequenceEntry, true, false);
    }
    this.popState();
    return this.event(EventType.SequenceEnd, token.start);
  }

  private blockMappingKey(first: boolean): YamlEvent {
    if (first) this.skip();
    const token = this.peek();
    if (token.type === TokenType.Key) {
      this.skip();
      const closers = [TokenType.Key, TokenType.Value, TokenType.BlockEnd];
      return this.entryNode(closers, State.BlockMappingValue, true, true);
    }
    if (token.type === TokenType.BlockEnd) {
      this.popState();
      this.skip();
      return this.event(EventType.MappingEnd, token.start);
    }
    this.fail("did not find expected key", token.start);
  }

  private blockMappingValue(): YamlEvent {
    const token = this.peek();
    if (token.type === TokenType.Value) {
      this.skip();
      const closers = [TokenType.Key, TokenType.Value, TokenType.BlockEnd];
      return this.entryNode(closers, State.BlockMappingKey, true, true);
    }
    this.state = State.BlockMappingKey;
    return this.emptyScalar(token.start);
  }

  private flowSequenceEntry(first: boolean): YamlEvent {
    if (first) this.skip();
    let token = this.peek();
    if (token.type !== TokenType.FlowSequenceEnd) {
      if (!first) {
        if (token.type !== TokenType.FlowEntry) this.fail("did not find expected ',' or ']'", token.start);
        this.skip();
        token = this.peek();
      }
      if (token.type === TokenType.Key) {
        this.state = State.FlowSequenceEntryMappingKey;
        this.skip();
        return this.event(EventType.MappingStart, token.start);
      }
      if (token.type !== TokenType.FlowSequenceEnd) {
        this.states.push(State.FlowSequenceEntry);
        return this.node(false, false);
      }
    }
    this.popState();
    this.skip();
    return this.event(EventType.SequenceEnd, token.start);
  }

  private flowSequenceEntryMappingKey(): YamlEvent {
    const token = this.peek();
    const closers = [TokenType.Value, TokenType.FlowEntry, TokenType.FlowSequenceEnd];
    if (!closers.includes(token.type)) {
      this.states.push(State.FlowSequenceEntryMappingValue);
      return this.node(false, false);
    }
    // libyaml consumes the closing token here (a quirk: `[? : x]` is then a syntax error).
    this.skip();
    this.state = State.FlowSequenceEntryMappingValue;
    return this.emptyScalar(token.start);
  }

  private flowSequenceEntryMappingValue(): YamlEvent {
    let token = this.peek();
    if (token.type === TokenType.Value) {
      this.skip();
      token = this.peek();
      if (token.type !== TokenType.FlowEntry && token.type !== TokenType.FlowSequenceEnd) {
        this.states.push(State.FlowSequenceEntryMappingEnd);
        return this.node(false, false);
      }
    }
    this.state = State.FlowSequenceEntryMappingEnd;
    return this.emptyScalar(token.start);
  }

  private flowMappingKey(first: boolean): YamlEvent {
    if (first) this.skip();
    let token = this.peek();
    if (token.type !== TokenType.FlowMappingEnd) {
      if (!first) {
        if (token.type !== TokenType.FlowEntry) this.fail("did not find expected ',' or '}'", token.start);
        this.skip();
        token = this.peek();
      }
      if (token.type === TokenType.Key) {
        this.skip();
        const closers = [TokenType.Value, TokenType.FlowEntry, TokenType.FlowMappingEnd];
        return this.entryNode(closers, State.FlowMappingValue, false, false);
      }
      if (token.type !== TokenType.FlowMappingEnd) {
        this.states.push(State.FlowMappingEmptyValue);
        return this.node(false, false);
      }
    }
    this.popState();
    this.skip();
    return this.event(EventType.MappingEnd, token.start);
  }

  private flowMappingValue(empty: boolean): YamlEvent {
    let token = this.peek();
    if (!empty && token.type === TokenType.Value) {
      this.skip();
      token = this.peek();
      if (token.type !== TokenType.FlowEntry && token.type !== TokenType.FlowMappingEnd) {
        this.states.push(State.FlowMappingKey);
        return this.node(false, false);
      }
    }
    this.state = State.FlowMappingKey;
    return this.emptyScalar(token.start);
  }
}
