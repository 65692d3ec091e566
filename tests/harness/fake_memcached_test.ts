import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { startMemcached } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { RawClient, type Target } from "./raw_client.ts";

/** A request batch, or one built from the previous batch's (normalized-free) reply. */
type Step = string | ((previous: string) => string);

const VERSION_LINE = /VERSION [^\r\n]*\r\n$/;

/** Cas uniques and version strings legitimately differ; long runs of data are summarized. */
function normalize(reply: string): string {
  return reply
    .replace(/^(VALUE \S+ \d+ \d+) \d+\r\n/gm, "$1 <cas>\r\n")
    .replace(/^VERSION [^\r\n]*/gm, "VERSION <v>")
    .replace(/x{64,}/g, (run) => `<x*${run.length}>`);
}

/** The cas unique of the first VALUE line in a gets reply. */
function casOf(reply: string): string {
  return /^VALUE \S+ \d+ \d+ (\d+)\r\n/m.exec(reply)?.[1] ?? "none";
}

/** Runs each step on one connection, a `version` after it marking where its replies end. */
async function run(target: Target, steps: Step[]): Promise<string[]> {
  const wire = await RawClient.open(target);
  try {
    const out: string[] = [];
    let previous = "";
    for (const step of steps) {
      await wire.send(`${typeof step === "string" ? step : step(previous)}version\r\n`);
      previous = (await wire.until((s) => VERSION_LINE.test(s))).replace(VERSION_LINE, "");
      out.push(normalize(previous));
    }
    return out;
  } finally {
    await wire.close();
  }
}

/** Runs `steps` against a real memcached and a fresh fake and asserts identical replies. */
async function compare(steps: Step[]): Promise<void> {
  const real = await startMemcached();
  const fake = await FakeMemcached.start();
  try {
    const expected = await run({ port: real.port }, steps);
    assert.deepStrictEqual(await run({ port: fake.port }, steps), expected);
  } finally {
    await fake.close();
    await real.stop();
  }
}

const data = (n: number) => "x".repeat(n);
const K250 = "k".repeat(250);

Deno.test("fake memcached stores and retrieves like memcached", needs("memcached"), async () => {
  await compare([
    "set a 0 0 1\r\n1\r\nset b 42 0 3\r\nbee\r\nget a\r\nget a b zz a\r\ngets a b\r\n",
    "add a 0 0 1\r\nx\r\nadd c 7 0 1\r\nc\r\nreplace zz 0 0 1\r\nx\r\nreplace c 8 0 2\r\ncc\r\nget c\r\n",
    "append b 9 0 2\r\n++\r\nprepend b 9 0 2\r\n--\r\nget b\r\nappend zz 0 0 1\r\nx\r\nprepend zz 0 0 1\r\nx\r\n",
    "set e 0 0 0\r\n\r\nget e\r\nset f 4294967296 0 1\r\nf\r\nset g 4294967295 0 1\r\ng\r\nget f g\r\n",
    "gets a\r\n",
    (prev) =>
      `cas a 5 0 2 ${casOf(prev)}\r\nok\r\ncas a 0 0 1 ${
        casOf(prev)
      }\r\nx\r\ncas zz 0 0 1 1\r\nx\r\nget a\r\n`,
    "cas a 0 0 1 0\r\nx\r\ncas a 0 0 1 abc\r\nx\r\n",
    "delete a\r\ndelete a\r\ndelete b 0\r\ndelete c 1\r\ndelete c x y z\r\ndelete c noreply\r\nget c\r\n",
    "touch zz 10\r\nset t 0 0 1\r\nt\r\ntouch t 100\r\ntouch t x\r\nget t\r\ntouch t -1\r\nget t\r\n",
    "set k\tey 0 0 1\r\n1\r\nget k\tey\r\nset \x01\x7f\xe9\xff 3 0 2\r\nab\r\nget \x01\x7f\xe9\xff\r\n",
    "   get a   \r\nset sp 0 0 1   \r\n1\r\nget sp\nget sp\x00ignored\r\n",
    `set ${K250} 0 0 1\r\n1\r\nget ${K250}\r\nset ${K250}k 0 0 1\r\n1\r\nincr ${K250}k 1\r\ntouch ${K250}k 1\r\ndelete ${K250}k\r\n`,
    `get a ${K250}k\r\n`,
    "flush_all\r\nget sp g\r\nset z 0 0 1\r\nz\r\nflush_all 0\r\nget z\r\nflush_all x\r\nflush_all -1\r\nflush_all noreply\r\n",
  ]);
});

Deno.test(
  "fake memcached answers incr/decr and their errors like memcached",
  needs("memcached"),
  async () => {
    await compare([
      "set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\nget n\r\ndecr n 5\r\nget n\r\n",
      "set n 0 0 1\r\n9\r\nincr n 1\r\nget n\r\ndecr n 20\r\nget n\r\nincr n 18446744073709551615\r\n",
      "incr n -1\r\nincr n abc\r\nincr n 18446744073709551616\r\nincr n -0\r\nincr n +3\r\nincr n -18446744073709551615\r\n",
      "incr zz 1\r\nset s 0 0 3\r\n  5\r\nincr s 1\r\nset t 0 0 2\r\n5 \r\nincr t 1\r\nget s t\r\n",
      "set u 0 0 2\r\n5a\r\nincr u 1\r\nset v 0 0 2\r\n-5\r\ndecr v 1\r\nset w 0 0 0\r\n\r\nincr w 1\r\n",
      "set big 0 0 20\r\n18446744073709551616\r\nincr big 1\r\nset hex 0 0 3\r\n0x5\r\nincr hex 1\r\n",
      "incr n 1 noreply\r\nincr u 1 noreply\r\nincr n x noreply\r\nget n\r\nincr\r\nincr n\r\nincr n 1 2 3\r\n",
    ]);
  },
);

Deno.test("fake memcached applies exptime rules like memcached", needs("memcached"), async () => {
  const future = Math.floor(Date.now() / 1000) + 1000;
  await compare([
    "set neg 0 -1 1\r\n1\r\nget neg\r\nadd neg 0 0 1\r\n2\r\nget neg\r\n",
    "set past 0 2592001 1\r\n1\r\nget past\r\nset rel 0 2592000 1\r\n1\r\nget rel\r\n",
    `set abs 0 ${future} 1\r\n1\r\nget abs\r\nset wrap 0 4000000000 1\r\n1\r\nget wrap\r\n`,
    "set big 0 -4294967196 1\r\n1\r\nget big\r\ntouch big 4294967296\r\nget big\r\n",
  ]);
});

Deno.test(
  "fake memcached handles noreply, malformed lines and data blocks like memcached",
  needs("memcached"),
  async () => {
    await compare([
      "set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nget a\r\nset a 0 0 1 extra\r\n3\r\nget a\r\n",
      "set a 0 0 1\r\nxyz\r\nget a\r\nset a 0 0 1 noreply\r\nxyz\r\nget a\r\n",
      "set b -1 0 1\r\nb\r\nset b 1 abc 1\r\nb\r\nset b 1 0 -1\r\nb\r\nset b 1 0\r\nb\r\nset b 0 0 noreply\r\n",
      "set b 0 0 4294967297\r\n1\r\nget b\r\nset b 0 0 2147483648\r\n1\r\n",
      "\r\n\nx\r\nGET a\r\nget\r\nget \r\nfoo bar\r\nstats_typo\r\ncas a 0 0 1\r\ny\r\ndelete\r\ntouch a\r\n",
    ]);
  },
);

Deno.test("fake memcached enforces the 1 MB item limit like memcached", needs("memcached"), async () => {
  await compare([
    `set a 0 0 1048516\r\n${data(1048516)}\r\nget a\r\n`,
    `set a 0 0 1048517\r\n${data(1048517)}\r\nget a\r\n`,
    `set b 1 0 1048512\r\n${data(1048512)}\r\nset b 1 0 1048513\r\n${data(1048513)}\r\nget b\r\n`,
    `set ${K250} 0 0 1048267\r\n${data(1048267)}\r\nset ${K250} 0 0 1048268\r\n${data(1048268)}\r\n`,
    `set c 0 0 1\r\nc\r\nadd c 0 0 2000000\r\n${data(2000000)}\r\nget c\r\n`,
    `set d 0 0 10\r\n${data(10)}\r\nappend d 0 0 1048506\r\n${data(1048506)}\r\nappend d 0 0 1\r\nx\r\n`,
    `set e 0 0 2000000 noreply\r\n${data(2000000)}\r\nget e\r\n`,
  ]);
});

Deno.test(
  "fake memcached closes like memcached on quit and on an endless line",
  needs("memcached"),
  async () => {
    const real = await startMemcached();
    const fake = await FakeMemcached.start();
    try {
      for (const target of [{ port: real.port }, { port: fake.port }]) {
        const quit = await RawClient.open(target);
        await quit.send("set q 0 0 1\r\n1\r\nquit\r\nget q\r\n");
        assert.strictEqual(await quit.closed(), "STORED\r\n");
        await quit.close();

        const long = await RawClient.open(target);
        await long.send(data(2048));
        assert.strictEqual(await long.quiet(200), "");
        assert.strictEqual(long.eof, false);
        await long.send("x");
        assert.strictEqual(await long.closed(), "");
        await long.close();

        const multiget = await RawClient.open(target);
        await multiget.send(`get ${"k ".repeat(2000)}`);
        assert.strictEqual(await multiget.quiet(200), "");
        await multiget.send("zz\r\n");
        assert.strictEqual(await multiget.until((s) => s.endsWith("END\r\n")), "END\r\n");
        await multiget.close();
      }
    } finally {
      await fake.close();
      await real.stop();
    }
  },
);

Deno.test("fake memcached reports a version line", async () => {
  const fake = await FakeMemcached.start();
  const wire = await RawClient.open({ port: fake.port });
  await wire.send("version\r\n");
  assert.match(await wire.until((s) => s.endsWith("\r\n")), /^VERSION \S+\r\n$/);
  await wire.close();
  await fake.close();
});

Deno.test("fake memcached parses requests split at every byte", async () => {
  const script =
    "set a 0 0 5\r\nhello\r\nget a b\r\ngets a\r\nincr a 1\r\ndelete a noreply\r\nget a\r\nversion\r\n";
  const fake = await FakeMemcached.start();
  const whole = await RawClient.open({ port: fake.port });
  await whole.send(script);
  const expected = await whole.until((s) => VERSION_LINE.test(s));
  await whole.close();
  const split = await RawClient.open({ port: fake.port });
  for (const ch of script) await split.send(ch);
  assert.strictEqual(normalize(await split.until((s) => VERSION_LINE.test(s))), normalize(expected));
  await split.close();
  await fake.close();
});

Deno.test("fake memcached forgets items after a delayed flush_all", async () => {
  const fake = await FakeMemcached.start();
  const wire = await RawClient.open({ port: fake.port });
  await wire.send("set a 0 0 1\r\n1\r\nflush_all 1\r\nget a\r\n");
  assert.strictEqual(
    await wire.until((s) => s.endsWith("END\r\n")),
    "STORED\r\nOK\r\nVALUE a 0 1\r\n1\r\nEND\r\n",
  );
  await new Promise((r) => setTimeout(r, 1100));
  await wire.send("get a\r\nset b 0 0 1\r\n2\r\nget b\r\n");
  assert.strictEqual(
    await wire.until((s) => s.endsWith("END\r\nSTORED\r\nVALUE b 0 1\r\n2\r\nEND\r\n")),
    "END\r\nSTORED\r\nVALUE b 0 1\r\n2\r\nEND\r\n",
  );
  await wire.close();
  await fake.close();
});

Deno.test("fake memcached listens on a unix socket and shares data across connections", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/mc.sock`;
  const fake = await FakeMemcached.start({ path });
  try {
    assert.strictEqual(fake.address, path);
    const a = await RawClient.open({ path });
    await a.send("set k 0 0 1\r\nv\r\n");
    assert.strictEqual(await a.until((s) => s.endsWith("\r\n")), "STORED\r\n");
    const b = await RawClient.open({ path });
    await b.send("get k\r\n");
    assert.strictEqual(await b.until((s) => s.endsWith("END\r\n")), "VALUE k 0 1\r\nv\r\nEND\r\n");
    await a.close();
    await b.close();
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
