/**
 * Memory of a process tree, read from /proc (Linux): the Chromium browser process and every process under
 * it (renderers, GPU, utility), plus this Node process. RSS summed over processes counts pages they share
 * (Chromium's processes share a lot) once per process, so it overstates what the tree holds; PSS (from
 * smaps_rollup) splits shared pages among their sharers and sums to what the tree really holds. Both are
 * reported; the goal is checked against RSS, the larger.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface MemorySample {
  /** Chromium tree, summed RSS and PSS (MB). */
  chromiumRssMb: number;
  chromiumPssMb: number;
  /** Processes in the Chromium tree. */
  processes: number;
  /** This Node process (MB). */
  nodeRssMb: number;
  nodePssMb: number;
}

const KB_PER_MB = 1024;

function readKb(file: string, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // the process ended between listing and reading
  }
}

/** Parent pid of every process visible in /proc. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: fields after the last ')' are fixed.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(entry), Number(after[1]));
    } catch {
      // gone already
    }
  }
  return out;
}

/** `root` and every process descended from it. */
export function processTree(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const [pid, ppid] of parents()) byParent.set(ppid, [...(byParent.get(ppid) ?? []), pid]);
  const tree: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    tree.push(pid);
    todo.push(...(byParent.get(pid) ?? []));
  }
  return tree;
}

/** RSS (cheap to read) of each pid, and PSS too when `pss` (smaps_rollup walks every mapping: slow). */
export function sampleMemory(tree: readonly number[], pss: boolean): MemorySample {
  const sum = (field: string, file: string) =>
    tree.reduce((n, pid) => n + readKb(`/proc/${pid}/${file}`, field), 0) / KB_PER_MB;
  return {
    chromiumRssMb: sum('VmRSS', 'status'),
    chromiumPssMb: pss ? sum('Pss', 'smaps_rollup') : 0,
    processes: tree.length,
    nodeRssMb: readKb('/proc/self/status', 'VmRSS') / KB_PER_MB,
    nodePssMb: pss ? readKb('/proc/self/smaps_rollup', 'Pss') / KB_PER_MB : 0,
  };
}

export interface MemoryPeak {
  /** Peak of (Chromium tree + Node) RSS over the samples, and its parts at that moment (MB). */
  totalRssMb: number;
  chromiumRssMb: number;
  nodeRssMb: number;
  /** Peak of (Chromium tree + Node) PSS over the samples that read it (MB). */
  totalPssMb: number;
  /** Most Chromium processes seen at once. */
  processes: number;
  samples: number;
}

/**
 * Samples RSS every `intervalMs` until stopped; the process tree is listed again every 4th sample (new
 * renderers) and PSS read every 10th (reading it costs tens of ms per Chromium process, which a sampler
 * in the worker's own event loop must not spend often). `pid()` names the browser process (it may be
 * relaunched).
 */
export function startMemorySampler(pid: () => number | undefined, intervalMs = 250): { stop(): MemoryPeak } {
  const peak: MemoryPeak = {
    totalRssMb: 0,
    chromiumRssMb: 0,
    nodeRssMb: 0,
    totalPssMb: 0,
    processes: 0,
    samples: 0,
  };
  let tree: number[] = [];
  const take = (all = false) => {
    const root = pid();
    if (all || peak.samples % 4 === 0) tree = root === undefined ? [] : processTree(root);
    const pss = all || peak.samples % 10 === 0;
    const s = sampleMemory(tree, pss);
    peak.samples++;
    peak.processes = Math.max(peak.processes, s.processes);
    if (pss) peak.totalPssMb = Math.max(peak.totalPssMb, s.chromiumPssMb + s.nodePssMb);
    if (s.chromiumRssMb + s.nodeRssMb > peak.totalRssMb) {
      peak.totalRssMb = s.chromiumRssMb + s.nodeRssMb;
      peak.chromiumRssMb = s.chromiumRssMb;
      peak.nodeRssMb = s.nodeRssMb;
    }
  };
  take(true);
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take(true);
      return peak;
    },
  };
}
