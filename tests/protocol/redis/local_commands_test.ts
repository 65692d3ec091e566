/**
 * The replies tsproxy gives itself to CLIENT, HELLO, COMMAND, SELECT and ECHO. Expected bytes quoted
 * as "redis 7.0" were read from redis-server 7.0.15 by hand for the same request.
 */
import assert from "assert";
import {
  type ClientState,
  type LocalCommand,
  type LocalContext,
  localReply,
} from "../../../src/protocol/redis/local_commands.ts";
import { bytes, command, text } from "./resp.ts";

const newClient = (id = 5): ClientState => ({
  id,
  name: null,
  libName: null,
  libVer: null,
  authenticated: true,
});
const OPEN: LocalContext = { redisDb: 0, password: null, redisVersion: "7.0.15" };
const LOCKED: LocalContext = { ...OPEN, password: bytes("secret") };

/** The ranges [s0, e0, ...] of a RESP request's arguments after the command name, as the parser gives them. */
function argumentRanges(msg: Uint8Array): number[] {
  const s = String.fromCharCode(...msg);
  const ranges: number[] = [];
  for (let at = s.indexOf("\r\n") + 2; at < s.length;) {
    const cr = s.indexOf("\r\n", at);
    const start = cr + 2;
    const end = start + Number(s.slice(at + 1, cr));
    ranges.push(start, end);
    at = end + 2;
  }
  return ranges.slice(2);
}

/** The reply, as text, to `name args...` for the client in the context. */
function ask(client: ClientState, ctx: LocalContext, name: string, ...args: (string | Uint8Array)[]): string {
  const msg = command(name, ...args);
  return text(localReply(name.toLowerCase() as LocalCommand, msg, argumentRanges(msg), client, ctx));
}

const wrongArity = (name: string) => `-ERR wrong number of arguments for '${name}' command\r\n`;
const BAD_NAME = "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";
const NOT_INTEGER = "-ERR value is not an integer or out of range\r\n";
/** redis 7.0's `HELLO 2` for client id 5. */
const HELLO_2 =
  "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n" +
  "$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
const NOPROTO = "-NOPROTO unsupported protocol version\r\n";
const WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const HELLO_NOAUTH = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
  "HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol " +
  "version at the same time\r\n";

Deno.test("ECHO answers its argument as a bulk string, binary-safe, as redis 7.0 does", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "ECHO", "hi"), "$2\r\nhi\r\n");
  assert.equal(ask(c, OPEN, "ECHO", ""), "$0\r\n\r\n");
  const binary = new Uint8Array([0, 13, 10, 255]);
  const msg = command("ECHO", binary);
  const reply = localReply("echo", msg, argumentRanges(msg), c, OPEN);
  assert.deepEqual([...reply], [...bytes("$4\r\n"), 0, 13, 10, 255, 13, 10]);
});

Deno.test("ECHO with no argument or two is redis 7.0's arity error", () => {
  assert.equal(ask(newClient(), OPEN, "ECHO"), wrongArity("echo"));
  assert.equal(ask(newClient(), OPEN, "ECHO", "a", "b"), wrongArity("echo"));
});

Deno.test("CLIENT SETNAME stores the name GETNAME returns; an empty name clears it (redis 7.0 bytes)", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "CLIENT", "GETNAME"), "$-1\r\n");
  assert.equal(ask(c, OPEN, "CLIENT", "SETNAME", "foo"), "+OK\r\n");
  assert.equal(c.name, "foo");
  assert.equal(ask(c, OPEN, "client", "getname"), "$3\r\nfoo\r\n");
  assert.equal(ask(c, OPEN, "CLIENT", "SETNAME", ""), "+OK\r\n");
  assert.equal(ask(c, OPEN, "CLIENT", "GETNAME"), "$-1\r\n");
});

Deno.test("CLIENT SETNAME refuses spaces, newlines and non-ASCII with redis 7.0's error, keeping the old name", () => {
  const c = newClient();
  ask(c, OPEN, "CLIENT", "SETNAME", "kept");
  for (const bad of ["a b", "a\nb", "é", "tab\there"]) {
    assert.equal(ask(c, OPEN, "CLIENT", "SETNAME", bad), BAD_NAME);
  }
  assert.equal(ask(c, OPEN, "CLIENT", "SETNAME", "a~!"), "+OK\r\n");
  assert.equal(c.name, "a~!");
});

Deno.test("CLIENT ID answers the client's id", () => {
  assert.equal(ask(newClient(42), OPEN, "CLIENT", "ID"), ":42\r\n");
});

Deno.test("CLIENT subcommands with the wrong number of arguments get redis 7.0's arity errors", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "CLIENT"), wrongArity("client"));
  assert.equal(ask(c, OPEN, "CLIENT", "SETNAME"), wrongArity("client|setname"));
  assert.equal(ask(c, OPEN, "CLIENT", "SETNAME", "a", "b"), wrongArity("client|setname"));
  assert.equal(ask(c, OPEN, "CLIENT", "GETNAME", "x"), wrongArity("client|getname"));
  assert.equal(ask(c, OPEN, "CLIENT", "ID", "x"), wrongArity("client|id"));
  assert.equal(ask(c, OPEN, "CLIENT", "INFO", "x"), wrongArity("client|info"));
  assert.equal(ask(c, OPEN, "CLIENT", "SETINFO", "LIB-NAME"), wrongArity("client|setinfo"));
  assert.equal(ask(c, OPEN, "CLIENT", "HELP", "x"), wrongArity("client|help"));
});

Deno.test("an unknown CLIENT subcommand gets redis 7.0's error, quoting at most 128 bytes on one line", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "CLIENT", "FOO"), "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n");
  assert.equal(ask(c, OPEN, "CLIENT", "a\nb"), "-ERR unknown subcommand 'a b'. Try CLIENT HELP.\r\n");
  const long = "x".repeat(140);
  assert.equal(
    ask(c, OPEN, "CLIENT", long),
    `-ERR unknown subcommand '${"x".repeat(128)}'. Try CLIENT HELP.\r\n`,
  );
});

Deno.test("CLIENT subcommands redis has but tsproxy does not serve are refused by name", () => {
  for (const sub of ["LIST", "kill", "Pause", "REPLY", "TRACKING", "NO-EVICT"]) {
    assert.equal(
      ask(newClient(), OPEN, "CLIENT", sub, "x"),
      `-ERR CLIENT ${sub.toUpperCase()} is not supported by tsproxy\r\n`,
    );
  }
});

Deno.test("CLIENT SETINFO stores LIB-NAME and LIB-VER in any letter case (redis 7.2's command)", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "CLIENT", "SETINFO", "LIB-NAME", "redis-py"), "+OK\r\n");
  assert.equal(ask(c, OPEN, "CLIENT", "SETINFO", "lib-ver", "5.0.1"), "+OK\r\n");
  assert.deepEqual([c.libName, c.libVer], ["redis-py", "5.0.1"]);
  assert.equal(ask(c, OPEN, "CLIENT", "SETINFO", "LIB-VER", ""), "+OK\r\n");
  assert.equal(c.libVer, null);
});

Deno.test("CLIENT SETINFO refuses another attribute and a value with spaces in redis 7.2's words", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "CLIENT", "SETINFO", "badger", "x"), "-ERR Unrecognized option 'badger'\r\n");
  assert.equal(
    ask(c, OPEN, "CLIENT", "SETINFO", "lib-name", "redis py"),
    "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n",
  );
  assert.equal(c.libName, null);
});

Deno.test("CLIENT INFO is one redis-style line with the fields the proxy knows", () => {
  const c = newClient(7);
  assert.equal(
    ask(c, { ...OPEN, redisDb: 3 }, "CLIENT", "INFO"),
    "$35\r\nid=7 name= db=3 lib-name= lib-ver=\n\r\n",
  );
  ask(c, OPEN, "CLIENT", "SETNAME", "app");
  ask(c, OPEN, "CLIENT", "SETINFO", "LIB-NAME", "ioredis");
  const line = "id=7 name=app db=0 lib-name=ioredis lib-ver=\n";
  assert.equal(ask(c, OPEN, "CLIENT", "INFO"), `$${line.length}\r\n${line}\r\n`);
});

Deno.test("CLIENT HELP lists the served subcommands in redis's help layout, HELP last", () => {
  const reply = ask(newClient(), OPEN, "CLIENT", "HELP");
  const lines = reply.split("\r\n").slice(1, -1);
  assert.equal(reply.split("\r\n")[0], `*${lines.length}`);
  assert.equal(lines[0], "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  assert.deepEqual(lines.slice(-2), ["+HELP", "+    Prints this help."]);
  for (const sub of ["GETNAME", "ID", "INFO", "SETNAME <name>"]) assert.ok(lines.includes(`+${sub}`), sub);
});

Deno.test("HELLO and HELLO 2 give redis 7.0's RESP2 reply with the context's version and the client id", () => {
  assert.equal(ask(newClient(), OPEN, "HELLO"), HELLO_2);
  assert.equal(ask(newClient(), OPEN, "HELLO", "2"), HELLO_2);
  assert.ok(
    ask(newClient(9), { ...OPEN, redisVersion: "6.2.14" }, "HELLO").includes("$6\r\n6.2.14\r\n$5\r\nproto"),
  );
});

Deno.test("HELLO 3 is refused with redis's NOPROTO text (tsproxy speaks RESP2 only), as are 1, 4 and -1", () => {
  for (const v of ["3", "1", "4", "-1"]) {
    assert.equal(ask(newClient(), OPEN, "HELLO", v, "SETNAME", "x"), NOPROTO);
  }
});

Deno.test("HELLO with a protocol version that is not a plain integer gets redis 7.0's error", () => {
  for (const v of ["x", "02", "2.0", "99999999999999999999", ""]) {
    assert.equal(
      ask(newClient(), OPEN, "HELLO", v),
      "-ERR Protocol version is not an integer or out of range\r\n",
    );
  }
});

Deno.test("HELLO options: unknown or short ones get redis 7.0's syntax error, SETNAME names the client", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "HELLO", "2", "FOO"), "-ERR Syntax error in HELLO option 'FOO'\r\n");
  assert.equal(ask(c, OPEN, "HELLO", "2", "AUTH", "default"), "-ERR Syntax error in HELLO option 'AUTH'\r\n");
  assert.equal(ask(c, OPEN, "HELLO", "2", "setname"), "-ERR Syntax error in HELLO option 'setname'\r\n");
  assert.equal(ask(c, OPEN, "HELLO", "2", "a\nb"), "-ERR Syntax error in HELLO option 'a b'\r\n");
  assert.equal(ask(c, OPEN, "HELLO", "2", "SETNAME", "a b"), BAD_NAME);
  assert.equal(c.name, null);
  assert.equal(ask(c, OPEN, "HELLO", "2", "SETNAME", "nm"), HELLO_2);
  assert.equal(c.name, "nm");
  assert.equal(ask(c, OPEN, "HELLO", "2", "SETNAME", ""), HELLO_2);
  assert.equal(c.name, null);
});

Deno.test("with redis_auth, HELLO before login gets redis 7.0's NOAUTH and changes nothing", () => {
  const c = { ...newClient(), authenticated: false };
  assert.equal(ask(c, LOCKED, "HELLO"), HELLO_NOAUTH);
  assert.equal(ask(c, LOCKED, "HELLO", "2", "SETNAME", "x"), HELLO_NOAUTH);
  assert.equal(c.name, null);
  // redis checks the version and the options before the login.
  assert.equal(ask(c, LOCKED, "HELLO", "4"), NOPROTO);
  assert.equal(ask(c, LOCKED, "HELLO", "2", "SETNAME", "a b"), BAD_NAME);
});

Deno.test("HELLO AUTH default <redis_auth> logs the client in and SETNAME applies; wrong ones are WRONGPASS", () => {
  const c = { ...newClient(4), authenticated: false };
  assert.equal(ask(c, LOCKED, "HELLO", "2", "AUTH", "default", "wrong"), WRONGPASS);
  assert.equal(ask(c, LOCKED, "HELLO", "2", "AUTH", "bob", "secret"), WRONGPASS);
  assert.equal(c.authenticated, false);
  assert.equal(
    ask(c, LOCKED, "HELLO", "2", "AUTH", "default", "secret", "SETNAME", "foo"),
    HELLO_2.replace(":5", ":4"),
  );
  assert.equal(c.authenticated, true);
  assert.equal(c.name, "foo");
});

Deno.test("with no redis_auth, HELLO AUTH logs in redis's nopass default user with any password", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "HELLO", "2", "AUTH", "default", "anything"), HELLO_2);
  assert.equal(ask(c, OPEN, "HELLO", "2", "AUTH", "bob", "x"), WRONGPASS);
});

Deno.test("COMMAND answers minimally: no commands, no docs, count 0, a nil per INFO name", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "COMMAND"), "*0\r\n");
  assert.equal(ask(c, OPEN, "COMMAND", "DOCS"), "*0\r\n");
  assert.equal(ask(c, OPEN, "COMMAND", "docs", "get", "set"), "*0\r\n");
  assert.equal(ask(c, OPEN, "COMMAND", "COUNT"), ":0\r\n");
  assert.equal(ask(c, OPEN, "COMMAND", "INFO", "get", "nosuch"), "*2\r\n$-1\r\n$-1\r\n");
  assert.equal(ask(c, OPEN, "COMMAND", "INFO"), "*0\r\n");
});

Deno.test("COMMAND errors: redis 7.0's unknown-subcommand and arity texts; GETKEYS and LIST refused by name", () => {
  const c = newClient();
  assert.equal(ask(c, OPEN, "COMMAND", "FOO"), "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n");
  assert.equal(ask(c, OPEN, "COMMAND", "COUNT", "x"), wrongArity("command|count"));
  assert.equal(ask(c, OPEN, "COMMAND", "HELP", "x"), wrongArity("command|help"));
  assert.equal(
    ask(c, OPEN, "COMMAND", "GETKEYS", "get", "k"),
    "-ERR COMMAND GETKEYS is not supported by tsproxy\r\n",
  );
  assert.equal(ask(c, OPEN, "COMMAND", "list"), "-ERR COMMAND LIST is not supported by tsproxy\r\n");
});

Deno.test("SELECT of the pool's db is +OK; another db is refused naming redis_db", () => {
  assert.equal(ask(newClient(), OPEN, "SELECT", "0"), "+OK\r\n");
  const db2 = { ...OPEN, redisDb: 2 };
  assert.equal(ask(newClient(), db2, "SELECT", "2"), "+OK\r\n");
  assert.equal(
    ask(newClient(), db2, "SELECT", "1"),
    "-ERR SELECT 1 is refused: this pool serves db 2 (redis_db)\r\n",
  );
  assert.equal(
    ask(newClient(), OPEN, "SELECT", "-1"),
    "-ERR SELECT -1 is refused: this pool serves db 0 (redis_db)\r\n",
  );
});

Deno.test("SELECT of a non-integer and SELECT with the wrong arity get redis 7.0's errors", () => {
  for (const bad of ["x", "1.5", "01", "", " 1", "99999999999999999999"]) {
    assert.equal(ask(newClient(), OPEN, "SELECT", bad), NOT_INTEGER, bad);
  }
  assert.equal(ask(newClient(), OPEN, "SELECT"), wrongArity("select"));
  assert.equal(ask(newClient(), OPEN, "SELECT", "1", "2"), wrongArity("select"));
});
