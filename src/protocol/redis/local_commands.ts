/** The commands a redis client sends when it connects, answered by the proxy itself. */
import { errReply } from "./error_reply.ts";
import { argsOf, concat, isWord, latin1 } from "./resp.ts";

const encoder = new TextEncoder();
const OK = encoder.encode("+OK\r\n");
const NIL = encoder.encode("$-1\r\n");
const NOPROTO = encoder.encode("-NOPROTO unsupported protocol version\r\n");
const WRONGPASS = encoder.encode("-WRONGPASS invalid username-password pair or user is disabled.\r\n");

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
  readonly password: Uint8Array | null;
  /** HELLO's `version`: the lowest the servers reported. */
  readonly redisVersion: string;
}

export type LocalCommand = "client" | "hello" | "select" | "echo";

function bulk(data: Uint8Array | string): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return concat([encoder.encode(`$${bytes.length}\r\n`), bytes, encoder.encode("\r\n")]);
}

function arity(name: string): Uint8Array {
  return errReply(`wrong number of arguments for '${name}' command`);
}

/** redis's rule for client names: printable ASCII without spaces. */
function validName(name: Uint8Array): boolean {
  return name.every((c) => c > 32 && c < 127);
}

/** The reply to CLIENT, HELLO, SELECT or ECHO, given its arguments (ranges into msg). */
export function localReply(
  cmd: LocalCommand,
  msg: Uint8Array,
  ranges: readonly number[],
  client: ClientState,
  ctx: LocalContext,
): Uint8Array {
  const args = argsOf(msg, ranges);
  switch (cmd) {
    case "echo":
      return args.length === 1 ? bulk(args[0]) : arity("echo");
    case "select": {
      if (args.length !== 1) return arity("select");
      const text = latin1(args[0]);
      if (!/^-?\d+$/.test(text)) return errReply("value is not an integer or out of range");
      return Number(text) === ctx.redisDb
        ? OK
        : errReply(`SELECT ${text} is refused: this pool serves db ${ctx.redisDb} (redis_db)`);
    }
    case "hello":
      return hello(args, client, ctx);
    case "client":
      return clientCommand(args, client);
  }
}

function clientCommand(args: Uint8Array[], client: ClientState): Uint8Array {
  const sub = latin1(args[0]).toLowerCase();
  const n = args.length - 1;
  switch (sub) {
    case "setname":
      if (n !== 1) return arity("client|setname");
      if (!validName(args[1])) {
        return errReply("Client names cannot contain spaces, newlines or special characters.");
      }
      client.name = args[1].length === 0 ? null : latin1(args[1]);
      return OK;
    case "getname":
      if (n !== 0) return arity("client|getname");
      return client.name === null ? NIL : bulk(Uint8Array.from(client.name, (c) => c.charCodeAt(0)));
    case "id":
      return n === 0 ? encoder.encode(`:${client.id}\r\n`) : arity("client|id");
    case "setinfo": {
      if (n !== 2) return arity("client|setinfo");
      const value = latin1(args[2]);
      if (isWord(args[1], "lib-name")) client.libName = value;
      else if (isWord(args[1], "lib-ver")) client.libVer = value;
      else return errReply(`Unrecognized option '${latin1(args[1])}'`);
      return OK;
    }
    case "info":
      return bulk(
        `id=${client.id} name=${client.name ?? ""} lib-name=${client.libName ?? ""} ` +
          `lib-ver=${client.libVer ?? ""}\n`,
      );
    case "list":
    case "kill":
    case "pause":
    case "unpause":
    case "reply":
    case "tracking":
    case "trackinginfo":
    case "getredir":
    case "caching":
    case "no-evict":
    case "no-touch":
    case "unblock":
      return errReply(`CLIENT ${sub.toUpperCase()} is not supported by tsproxy`);
  }
  return errReply(`unknown subcommand '${latin1(args[0])}'. Try CLIENT HELP.`);
}

function hello(args: Uint8Array[], client: ClientState, ctx: LocalContext): Uint8Array {
  if (args.length > 0) {
    const version = latin1(args[0]);
    if (!/^\d+$/.test(version)) return errReply("Protocol version is not an integer or out of range");
    if (version !== "2") return NOPROTO;
  }
  let authenticated = client.authenticated;
  let name = client.name;
  for (let i = 1; i < args.length; i++) {
    if (isWord(args[i], "auth") && i + 2 < args.length) {
      if (ctx.password === null) {
        return errReply(
          "AUTH <password> called without any password configured for the default user. " +
            "Are you sure your configuration is correct?",
        );
      }
      const pass = args[i + 2];
      authenticated = isWord(args[i + 1], "default") && pass.length === ctx.password.length &&
        pass.every((c, j) => c === ctx.password![j]);
      if (!authenticated) return WRONGPASS;
      i += 2;
    } else if (isWord(args[i], "setname") && i + 1 < args.length) {
      if (!validName(args[i + 1])) {
        return errReply("Client names cannot contain spaces, newlines or special characters.");
      }
      name = latin1(args[++i]);
    } else return errReply(`Syntax error in HELLO option '${latin1(args[i])}'`);
  }
  if (!authenticated) {
    return encoder.encode(
      "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> " +
        "AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol " +
        "version at the same time\r\n",
    );
  }
  client.authenticated = true;
  client.name = name;
  return concat([
    encoder.encode("*14\r\n"),
    bulk("server"),
    bulk("redis"),
    bulk("version"),
    bulk(ctx.redisVersion),
    bulk("proto"),
    encoder.encode(":2\r\n"),
    bulk("id"),
    encoder.encode(`:${client.id}\r\n`),
    bulk("mode"),
    bulk("standalone"),
    bulk("role"),
    bulk("master"),
    bulk("modules"),
    encoder.encode("*0\r\n"),
  ]);
}
