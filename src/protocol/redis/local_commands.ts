/**
 * The connection commands the proxy answers itself (CLIENT, HELLO, COMMAND, SELECT, ECHO): they are
 * about the client's connection to tsproxy, not about data, so no server is asked. RESP2 only. Every
 * reply redis also gives is byte for byte redis 7.0's (checked against redis-server 7.0.15); CLIENT
 * SETINFO, which 7.0 lacks, answers as redis 7.2 does, since redis-py 5 and node-redis send it on
 * connect.
 */
import { errReply } from "./error_reply.ts";
import { argsOf, concat, latin1 } from "./resp.ts";

/** What CLIENT and HELLO set and read for one client. */
export interface ClientState {
  readonly id: number;
  name: string | null;
  libName: string | null;
  libVer: string | null;
  authenticated: boolean;
}

/** The pool's side of the answers. */
export interface LocalContext {
  readonly redisDb: number;
  /** redis_auth, or null when the pool has none. */
  readonly password: Uint8Array | null;
  /** HELLO's `version`. */
  readonly redisVersion: string;
}

export type LocalCommand = "client" | "hello" | "command" | "select" | "echo";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OK = encoder.encode("+OK\r\n");
const NIL = encoder.encode("$-1\r\n");
const EMPTY = encoder.encode("*0\r\n");
const CRLF = encoder.encode("\r\n");
const NOPROTO = encoder.encode("-NOPROTO unsupported protocol version\r\n");
const WRONGPASS = encoder.encode("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
// redis 7.0's text (7.2 added "<proto> " after the first HELLO).
const HELLO_NOAUTH = encoder.encode(
  "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH " +
    "<user> <pass> option can be used to authenticate the client and select the RESP protocol version " +
    "at the same time\r\n",
);
const BAD_NAME = errReply("Client names cannot contain spaces, newlines or special characters.");
const NOT_INTEGER = errReply("value is not an integer or out of range");
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** redis quotes at most this many bytes of an unknown subcommand. */
const QUOTED_SUBCOMMAND = 128;

type Handler = (args: Uint8Array[], client: ClientState, ctx: LocalContext) => Uint8Array;

/** The reply to CLIENT, HELLO, COMMAND, SELECT or ECHO; `ranges` are its arguments after the name. */
export function localReply(
  cmd: LocalCommand,
  msg: Uint8Array,
  ranges: readonly number[],
  client: ClientState,
  ctx: LocalContext,
): Uint8Array {
  return HANDLERS[cmd](argsOf(msg, ranges), client, ctx);
}

const HANDLERS: Record<LocalCommand, Handler> = {
  echo: (args) => args.length === 1 ? bulk(args[0]) : arityError("echo"),
  select,
  hello,
  client: (args, client, ctx) => subcommand(CLIENT, args, client, ctx),
  // COMMAND alone lists no command: clients then use their own tables (redis-cli asks at startup).
  command: (args, client, ctx) => args.length === 0 ? EMPTY : subcommand(COMMAND, args, client, ctx),
};

/** `$<len>\r\n<bytes>\r\n`. */
function bulk(data: Uint8Array | string): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return concat([encoder.encode(`$${bytes.length}\r\n`), bytes, CRLF]);
}

const integer = (n: number): Uint8Array => encoder.encode(`:${n}\r\n`);

function arityError(name: string): Uint8Array {
  return errReply(`wrong number of arguments for '${name}' command`);
}

/** Client bytes quoted in an error, as redis does: newlines become spaces so the reply stays one line. */
function quoted(bytes: Uint8Array): string {
  return decoder.decode(bytes).replace(/[\r\n]/g, " ");
}

/** redis's rule for client names (and 7.2's for lib-name, lib-ver): printable ASCII, no space. */
function validName(name: Uint8Array): boolean {
  return name.every((c) => c > 32 && c < 127);
}

/** A name as stored: an empty one clears it, as in redis. */
const nameOf = (bytes: Uint8Array): string | null => bytes.length === 0 ? null : latin1(bytes);

/** redis's strict integer (string2ll): no sign but '-', no leading zero, no space, within 64 bits. */
function int64(bytes: Uint8Array): bigint | null {
  const text = latin1(bytes);
  if (!/^(0|-?[1-9][0-9]{0,19})$/.test(text)) return null;
  const n = BigInt(text);
  return n < INT64_MIN || n > INT64_MAX ? null : n;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/** SELECT: only the pool's own db, since every server connection of the pool is bound to it. */
function select(args: Uint8Array[], _client: ClientState, ctx: LocalContext): Uint8Array {
  if (args.length !== 1) return arityError("select");
  const db = int64(args[0]);
  if (db === null) return NOT_INTEGER;
  if (db === BigInt(ctx.redisDb)) return OK;
  return errReply(`SELECT ${db} is refused: this pool serves db ${ctx.redisDb} (redis_db)`);
}

/** HELLO [protover [AUTH user pass] [SETNAME name]], checked in redis's order. */
function hello(args: Uint8Array[], client: ClientState, ctx: LocalContext): Uint8Array {
  if (args.length > 0) {
    const protover = int64(args[0]);
    if (protover === null) return errReply("Protocol version is not an integer or out of range");
    // redis 7 speaks RESP3 too; tsproxy's replies are RESP2 only, so 3 gets redis's refusal of 4.
    if (protover !== 2n) return NOPROTO;
  }
  let auth: [Uint8Array, Uint8Array] | null = null;
  let name: Uint8Array | null = null;
  for (let i = 1; i < args.length; i++) {
    const option = latin1(args[i]).toLowerCase();
    const more = args.length - 1 - i;
    if (option === "auth" && more >= 2) {
      auth = [args[i + 1], args[i + 2]];
      i += 2;
    } else if (option === "setname" && more >= 1) {
      name = args[++i];
      if (!validName(name)) return BAD_NAME;
    } else return errReply(`Syntax error in HELLO option '${quoted(args[i])}'`);
  }
  if (auth !== null) {
    if (!logsIn(auth[0], auth[1], ctx.password)) return WRONGPASS;
    client.authenticated = true;
  }
  if (!client.authenticated) return HELLO_NOAUTH;
  if (name !== null) client.name = nameOf(name);
  return helloReply(client, ctx);
}

/**
 * Whether HELLO's AUTH logs in: only redis's `default` user exists. With no redis_auth it is redis's
 * `nopass` default user, whom any password logs in (redis 7.0 answers so too).
 */
function logsIn(user: Uint8Array, password: Uint8Array, expected: Uint8Array | null): boolean {
  return latin1(user) === "default" && (expected === null || sameBytes(password, expected));
}

/** redis's RESP2 HELLO reply: its map as a flat array of 14 elements. */
function helloReply(client: ClientState, ctx: LocalContext): Uint8Array {
  return concat([
    encoder.encode("*14\r\n"),
    ...["server", "redis", "version", ctx.redisVersion, "proto"].map(bulk),
    integer(2),
    bulk("id"),
    integer(client.id),
    ...["mode", "standalone", "role", "master", "modules"].map(bulk),
    EMPTY,
  ]);
}

/** One subcommand: redis's arity (counting the command and the subcommand; negative: at least). */
interface Subcommand {
  arity: number;
  run: Handler;
  /** Its lines in HELP. */
  help: string[];
}

/** A command made of subcommands, dispatched as redis does. */
interface SubcommandTable {
  name: string;
  served: Map<string, Subcommand>;
  /** redis's other subcommands, which tsproxy refuses by name. */
  refused: Set<string>;
}

/**
 * Finds the subcommand named by args[0] and checks its arity (redis's errors for a missing, unknown or
 * short subcommand), then runs it.
 */
function subcommand(
  table: SubcommandTable,
  args: Uint8Array[],
  client: ClientState,
  ctx: LocalContext,
): Uint8Array {
  if (args.length === 0) return arityError(table.name);
  const name = latin1(args[0]).toLowerCase();
  const sub = table.served.get(name);
  if (sub !== undefined) {
    const argc = args.length + 1;
    const fits = sub.arity >= 0 ? argc === sub.arity : argc >= -sub.arity;
    return fits ? sub.run(args, client, ctx) : arityError(`${table.name}|${name}`);
  }
  const upper = table.name.toUpperCase();
  if (table.refused.has(name)) return errReply(`${upper} ${name.toUpperCase()} is not supported by tsproxy`);
  const shown = quoted(args[0].subarray(0, QUOTED_SUBCOMMAND));
  return errReply(`unknown subcommand '${shown}'. Try ${upper} HELP.`);
}

/** HELP's reply in redis's layout: one status line each, framed by redis's first and last lines. */
function helpReply(table: SubcommandTable): Uint8Array {
  const upper = table.name.toUpperCase();
  const lines = [
    `${upper} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`,
    ...[...table.served.values()].flatMap((s) => s.help),
  ];
  return encoder.encode(`*${lines.length}\r\n` + lines.map((l) => `+${l}\r\n`).join(""));
}

/** Adds HELP to a table, listing the table's own subcommands. */
function withHelp(table: SubcommandTable): SubcommandTable {
  const help = { arity: 2, run: () => helpReply(table), help: ["HELP", "    Prints this help."] };
  table.served.set("help", help);
  return table;
}

/** CLIENT SETINFO LIB-NAME|LIB-VER value (redis 7.2's checks and texts). */
function setInfo(args: Uint8Array[], client: ClientState): Uint8Array {
  const attribute = latin1(args[1]).toLowerCase();
  if (attribute !== "lib-name" && attribute !== "lib-ver") {
    return errReply(`Unrecognized option '${quoted(args[1])}'`);
  }
  if (!validName(args[2])) {
    return errReply(`${quoted(args[1])} cannot contain spaces, newlines or special characters.`);
  }
  if (attribute === "lib-name") client.libName = nameOf(args[2]);
  else client.libVer = nameOf(args[2]);
  return OK;
}

/** CLIENT INFO: redis's one-line `field=value` format, with the fields the proxy knows. */
function clientInfo(_args: Uint8Array[], client: ClientState, ctx: LocalContext): Uint8Array {
  return bulk(
    `id=${client.id} name=${client.name ?? ""} db=${ctx.redisDb} lib-name=${client.libName ?? ""} ` +
      `lib-ver=${client.libVer ?? ""}\n`,
  );
}

const CLIENT: SubcommandTable = withHelp({
  name: "client",
  served: new Map<string, Subcommand>([
    ["getname", {
      arity: 2,
      run: (_args, client) => client.name === null ? NIL : bulk(client.name),
      help: ["GETNAME", "    Return the name of the current connection."],
    }],
    ["id", {
      arity: 2,
      run: (_args, client) => integer(client.id),
      help: ["ID", "    Return the ID of the current connection."],
    }],
    ["info", {
      arity: 2,
      run: clientInfo,
      help: ["INFO", "    Return information about the current client connection."],
    }],
    ["setinfo", {
      arity: 4,
      run: setInfo,
      help: [
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME",
        "    * LIB-VER",
      ],
    }],
    ["setname", {
      arity: 3,
      run: (args, client) => {
        if (!validName(args[1])) return BAD_NAME;
        client.name = nameOf(args[1]);
        return OK;
      },
      help: ["SETNAME <name>", "    Assign the name <name> to the current connection."],
    }],
  ]),
  refused: new Set(
    "caching getredir kill list no-evict no-touch pause reply tracking trackinginfo unblock unpause".split(
      " ",
    ),
  ),
});

// Minimal on purpose: tsproxy describes no command, so clients keep to their own tables.
const COMMAND: SubcommandTable = withHelp({
  name: "command",
  served: new Map<string, Subcommand>([
    ["count", {
      arity: 2,
      run: () => integer(0),
      help: ["COUNT", "    Return 0: tsproxy describes no command."],
    }],
    ["docs", {
      arity: -2,
      run: () => EMPTY,
      help: ["DOCS [<command-name> ...]", "    Return no documentation."],
    }],
    ["info", {
      arity: -2,
      run: (args) => encoder.encode(`*${args.length - 1}\r\n` + "$-1\r\n".repeat(args.length - 1)),
      help: ["INFO [<command-name> ...]", "    Return a nil for each command name."],
    }],
  ]),
  refused: new Set(["getkeys", "getkeysandflags", "list"]),
});
