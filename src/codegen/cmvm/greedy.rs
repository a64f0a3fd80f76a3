//! The greedy pass: the pair of digits that occurs most often across rows
//! (weighted by depth, see `Solver::priority`) becomes a shared adder, until
//! no pair occurs twice where the depth budgets allow it.

use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::digits::{Digit, Solution, Sum};

/// A pattern `a ± (b << Δ)` packed in a `u64`: the two sources (26 bits each),
/// the shift of `b`'s digit minus `a`'s (11 bits, offset), same signs (1 bit).
type Key = u64;

const SRC_BITS: u32 = 26;
const MAX_SRC: u32 = (1 << SRC_BITS) - 1;
const DELTA_OFFSET: i32 = 1 << 10;

fn key(p: Digit, q: Digit) -> Key {
    // Canonical order: by source, then by shift.
    let (p, q) = if (p.src, p.shift) <= (q.src, q.shift) { (p, q) } else { (q, p) };
    let delta = (q.shift - p.shift + DELTA_OFFSET) as u64;
    ((p.src as u64) << 38) | ((q.src as u64) << 12) | (delta << 1) | (p.negate == q.negate) as u64
}

fn unkey(k: Key) -> (u32, u32, i32, bool) {
    let a = (k >> 38) as u32 & MAX_SRC;
    let b = (k >> 12) as u32 & MAX_SRC;
    let delta = ((k >> 1) & 0x7ff) as i32 - DELTA_OFFSET;
    (a, b, delta, k & 1 == 1)
}

/// A multiply-fold hash for packed keys: they are not attacker-chosen, so
/// SipHash's protection buys nothing here.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        let m = ((self.0 ^ x) as u128) * 0x9E37_79B9_7F4A_7C15u128;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

/// See [`Solver::priority`].
type Priority = (i64, std::cmp::Reverse<(u32, u32)>, std::cmp::Reverse<u64>);

/// Shares the digits of `rows` within the weight budget `budget` per row
/// (`Σ 2^level` over its digits), adding the shared adders to `sol`; ties
/// broken in the order of `seed`. Returns what each row still adds up.
pub(super) fn share(
    sol: &mut Solution,
    rows: Vec<Vec<Digit>>,
    budget: u128,
    seed: u64,
) -> Vec<Vec<Digit>> {
    let total: usize = rows.iter().map(Vec::len).sum();
    let blocks = total.div_ceil(BLOCK_DIGITS).max(1);
    if blocks == 1 {
        let others = vec![0; rows.len()];
        return share_block(sol, rows, others, budget, seed);
    }
    // Big layers, block by block of inputs: a pass costs each row's length
    // per occurrence, and the pattern table grows with the square of it.
    let width = sol.inputs.div_ceil(blocks);
    let mut done: Vec<Vec<Digit>> = vec![Vec::new(); rows.len()];
    for lo in (0..sol.inputs).step_by(width) {
        let hi = (lo + width) as u32;
        let lo = lo as u32;
        let mut part = Vec::with_capacity(rows.len());
        let mut others = Vec::with_capacity(rows.len());
        for (row, done) in rows.iter().zip(&done) {
            part.push(row.iter().filter(|d| (lo..hi).contains(&d.src)).copied().collect());
            let later = row.iter().filter(|d| d.src >= hi).count() as u128;
            let earlier: u128 = done.iter().map(|d| 1u128 << sol.levels[d.src as usize]).sum();
            others.push(earlier + later);
        }
        let rest = share_block(sol, part, others, budget, seed);
        for (done, rest) in done.iter_mut().zip(rest) {
            done.extend(rest);
        }
    }
    for d in &mut done {
        d.sort();
    }
    done
}

/// Digits of the biggest block one pass takes: 784x300 INQ-5 (223,000
/// digits) in five blocks solves in about 5 s here and keeps 95% of the
/// sharing one whole pass finds (in a minute).
pub const BLOCK_DIGITS: usize = 49_152;

/// One block: `others[j]` is the weight of row `j`'s digits outside it.
fn share_block(
    sol: &mut Solution,
    rows: Vec<Vec<Digit>>,
    others: Vec<u128>,
    budget: u128,
    seed: u64,
) -> Vec<Vec<Digit>> {
    let mut s = Solver::new(sol, rows, others);
    s.budget = budget;
    s.seed = seed;
    s.run();
    s.rows
}

struct Solver<'a> {
    sol: &'a mut Solution,
    /// What each output (or difference) still adds up, sorted.
    rows: Vec<Vec<Digit>>,
    /// Occurrences of every pattern (pairs of digits of one row).
    counts: KeyMap<i64>,
    /// Candidates by count; stale entries are re-pushed when popped.
    heap: BinaryHeap<(Priority, Key)>,
    /// Rows that hold each source (may list rows that no longer do).
    holders: Vec<Vec<u32>>,
    /// Per row, `Σ 2^level` over its digits; never above `budget`.
    weight: Vec<u128>,
    budget: u128,
    /// Which order ties take (0: key order).
    seed: u64,
}

impl<'a> Solver<'a> {
    fn new(sol: &'a mut Solution, rows: Vec<Vec<Digit>>, others: Vec<u128>) -> Solver<'a> {
        let mut holders = vec![Vec::new(); sol.levels.len()];
        for (j, ds) in rows.iter().enumerate() {
            for d in ds {
                let h = &mut holders[d.src as usize];
                if h.last() != Some(&(j as u32)) {
                    h.push(j as u32);
                }
            }
        }
        let weight = rows.iter().zip(others).map(|(ds, o)| ds.len() as u128 + o).collect();
        Solver {
            sol,
            rows,
            counts: KeyMap::default(),
            heap: BinaryHeap::new(),
            holders,
            weight,
            budget: 0,
            seed: 0,
        }
    }

    fn level(&self, src: u32) -> u32 {
        self.sol.levels[src as usize]
    }

    /// Tie-break: patterns over sources of equal level cost no depth.
    /// Occurrences weighted by `4 + level` of the deeper source (a sum of
    /// deeper sources saves wider adders each time it is reused, as da4ml's
    /// width weighting has it), then deeper first, then the smaller level
    /// gap (it costs no depth), then the try's tie order.
    fn priority(&self, k: Key) -> Priority {
        let (a, b, _, _) = unkey(k);
        let (la, lb) = (self.level(a), self.level(b));
        let (deep, gap) = (la.max(lb), la.abs_diff(lb));
        // The first try takes ties in key order, every other try in its own.
        let tie = if self.seed == 0 {
            k
        } else {
            let mut h = KeyHasher(self.seed.wrapping_mul(0xD6E8_FEB8_6659_FD93));
            h.write_u64(k);
            h.finish()
        };
        let count = self.counts.get(&k).copied().unwrap_or(0);
        let score = if count >= 2 { count * (4 + deep as i64) } else { count };
        (score, std::cmp::Reverse((u32::MAX - deep, gap)), std::cmp::Reverse(tie))
    }

    fn run(&mut self) {
        for ds in &self.rows {
            for (i, &p) in ds.iter().enumerate() {
                for &q in &ds[i + 1..] {
                    *self.counts.entry(key(p, q)).or_insert(0) += 1;
                }
            }
        }
        let mut keys: Vec<Key> =
            self.counts.iter().filter(|(_, &c)| c >= 2).map(|(&k, _)| k).collect();
        keys.sort_unstable();
        self.heap = keys.into_iter().map(|k| (self.priority(k), k)).collect();
        while let Some((top, k)) = self.heap.pop() {
            let current = self.priority(k);
            if current != top {
                if current.0 >= 2 {
                    self.heap.push((current, k));
                }
                continue;
            }
            if self.sol.levels.len() as u32 >= MAX_SRC {
                break;
            }
            if !self.extract(k) {
                // Every occurrence would break a depth budget, and budgets only
                // fill up: the pattern is done for good.
                self.counts.insert(k, i64::MIN / 2);
            }
        }
    }

    /// Where output `j` holds pattern `(a, b, Δ, same)`: pairs of digit indices,
    /// disjoint, in order.
    fn occurrences(&self, j: usize, a: u32, b: u32, delta: i32, same: bool) -> Vec<(usize, usize)> {
        let ds = &self.rows[j];
        let range = |src: u32| {
            let lo = ds.partition_point(|d| d.src < src);
            let hi = ds.partition_point(|d| d.src <= src);
            lo..hi
        };
        let (ra, rb) = (range(a), range(b));
        let mut used = Vec::new();
        let mut found = Vec::new();
        for i in ra {
            if used.contains(&i) {
                continue;
            }
            let p = ds[i];
            let want = p.shift + delta;
            for k in rb.clone() {
                let q = ds[k];
                if k != i && q.shift == want && (p.negate == q.negate) == same && !used.contains(&k)
                {
                    used.extend([i, k]);
                    found.push((i, k));
                    break;
                }
            }
        }
        found
    }

    /// Makes pattern `k` a shared sum where the depth budgets allow; false if
    /// fewer than two occurrences could take it.
    fn extract(&mut self, k: Key) -> bool {
        let (a, b, delta, same) = unkey(k);
        let level = self.level(a).max(self.level(b)) + 1;
        let cost = (1u128 << level) - (1u128 << self.level(a)) - (1u128 << self.level(b));
        let mut candidates = self.holders[a as usize].clone();
        candidates.sort_unstable();
        candidates.dedup();
        let mut plan = Vec::new();
        for &j in &candidates {
            let j = j as usize;
            let mut room = self.budget.saturating_sub(self.weight[j]);
            let mut take = Vec::new();
            for occ in self.occurrences(j, a, b, delta, same) {
                if cost <= room {
                    room -= cost;
                    take.push(occ);
                }
            }
            if !take.is_empty() {
                plan.push((j, take));
            }
        }
        if plan.iter().map(|(_, t)| t.len()).sum::<usize>() < 2 {
            return false;
        }
        // The new source: shifts relative to the smaller one.
        let t = self.sol.levels.len() as u32;
        let base = 0.min(delta);
        let sum = Sum {
            a: Digit { src: a, shift: -base, negate: false },
            b: Digit { src: b, shift: delta - base, negate: !same },
        };
        self.sol.sums.push(sum);
        self.sol.levels.push(level);
        self.holders.push(Vec::new());
        // Patterns with the new source: counted over all rows, then queued
        // (queued early, a count that grows later would sit too low).
        let mut fresh = Vec::new();
        for (j, take) in plan {
            self.apply(j, t, &take, base, cost, &mut fresh);
        }
        for k in fresh {
            let p = self.priority(k);
            self.heap.push((p, k));
        }
        true
    }

    /// Replaces the digit pairs `take` of output `j` by digits of source `t`.
    fn apply(
        &mut self,
        j: usize,
        t: u32,
        take: &[(usize, usize)],
        base: i32,
        cost: u128,
        fresh: &mut Vec<Key>,
    ) {
        let ds = std::mem::take(&mut self.rows[j]);
        let mut gone = vec![false; ds.len()];
        let mut added = Vec::new();
        for &(i, k) in take {
            gone[i] = true;
            gone[k] = true;
            let p = ds[i];
            added.push(Digit { src: t, shift: p.shift + base, negate: p.negate });
        }
        let kept: Vec<Digit> = ds.iter().zip(&gone).filter(|(_, &g)| !g).map(|(&d, _)| d).collect();
        let removed: Vec<Digit> =
            ds.iter().zip(&gone).filter(|(_, &g)| g).map(|(&d, _)| d).collect();
        // Pairs that disappear: removed × kept, and among the removed.
        for (i, &p) in removed.iter().enumerate() {
            for &q in kept.iter().chain(&removed[i + 1..]) {
                *self.counts.entry(key(p, q)).or_insert(0) -= 1;
            }
        }
        // Pairs that appear: added × kept, and among the added.
        for (i, &p) in added.iter().enumerate() {
            for &q in kept.iter().chain(&added[i + 1..]) {
                let k = key(p, q);
                let c = self.counts.entry(k).or_insert(0);
                *c += 1;
                if *c == 2 {
                    fresh.push(k);
                }
            }
        }
        self.weight[j] += cost * take.len() as u128;
        let mut all = kept;
        all.extend(added);
        all.sort();
        self.rows[j] = all;
        self.holders[t as usize].push(j as u32);
    }
}
