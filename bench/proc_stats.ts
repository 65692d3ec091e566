/**
 * Linux /proc readings of a process and its descendants (a proxy may run helper processes): CPU
 * seconds (utime, stime of each thread group, all threads included) and memory lines of
 * /proc/PID/status (VmRSS, VmHWM), summed over the tree.
 */

/** User and system CPU seconds. */
export interface CpuTimes {
  user: number;
  system: number;
}

/** The fields of a /proc/PID/stat line after the command name (field 3, the state, is index 0). */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 1).trim().split(/\s+/);
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null; // the process is gone
  }
}

/** `pid` and its descendants, found through the parent pid of every process in /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readText(`/proc/${entry.name}/stat`);
    if (stat === null) continue;
    const ppid = Number(statFields(stat)[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry.name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

let ticksPerSecond: number | null = null;

/** The kernel's clock ticks per second (`getconf CLK_TCK`; 100 when that cannot run). */
export function clockTicks(): number {
  if (ticksPerSecond !== null) return ticksPerSecond;
  ticksPerSecond = 100;
  try {
    const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped", stderr: "null" })
      .outputSync();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    if (out.success && n > 0) ticksPerSecond = n;
  } catch { /* keep 100 */ }
  return ticksPerSecond;
}

/** CPU seconds used so far by `pid` and its descendants (utime and stime, 14th and 15th stat fields). */
export function cpuSeconds(pid: number): CpuTimes {
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    const stat = readText(`/proc/${p}/stat`);
    if (stat === null) continue;
    const f = statFields(stat);
    user += Number(f[11]);
    system += Number(f[12]);
  }
  const hz = clockTicks();
  return { user: user / hz, system: system / hz };
}

/** The value in kB of a /proc/PID/status line (e.g. `VmRSS`, `VmHWM`), 0 when absent. */
export function statusKb(status: string, key: string): number {
  const line = status.split("\n").find((l) => l.startsWith(`${key}:`));
  return line === undefined ? 0 : Number(line.split(/\s+/)[1]);
}

/** A /proc/PID/status memory line summed over `pid` and its descendants, in kB. */
export function memoryKb(pid: number, key: "VmRSS" | "VmHWM"): number {
  let total = 0;
  for (const p of processTree(pid)) {
    const status = readText(`/proc/${p}/status`);
    if (status !== null) total += statusKb(status, key);
  }
  return total;
}
