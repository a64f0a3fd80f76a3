//! Outputs as chains of differences: `y_j = r_j ± y_p` where row `j` is close
//! to row `p` in signed digits (da4ml's first stage, a spanning tree of rows).

use super::digits::{distance, tree_depth};

/// Each output's parent `(p, sign)` (`y_j = r_j + sign·y_p`), `None` for the
/// zero root: Prim's spanning tree over the signed-digit distance of rows, at
/// most `hops` deep, every difference shallow enough for `depth`.
pub(super) fn chains(
    rows: &[Vec<i64>],
    depth: u32,
    hops: u32,
) -> Option<Vec<Option<(usize, i64)>>> {
    let n = rows.len();
    // Every difference within `depth + 1 - hops` levels: the deepest chain
    // then ends within `depth`.
    let fits = |digits: usize| tree_depth(std::iter::repeat_n(0, digits)) + hops <= depth + 1;
    let mut parent: Vec<Option<(usize, i64)>> = vec![None; n];
    let mut hop = vec![0u32; n];
    let mut in_tree = vec![false; n];
    // Best known attachment of every output outside the tree: (cost, parent).
    let mut best: Vec<(usize, Option<(usize, i64)>)> = rows
        .iter()
        .map(|r| {
            let d = distance(r, None);
            (if fits(d) { d } else { usize::MAX }, None)
        })
        .collect();
    for _ in 0..n {
        let j = (0..n).filter(|&j| !in_tree[j]).min_by_key(|&j| (best[j].0, j))?;
        if best[j].0 == usize::MAX {
            return None;
        }
        in_tree[j] = true;
        parent[j] = best[j].1;
        hop[j] = parent[j].map_or(1, |(p, _)| hop[p] + 1);
        if hop[j] >= hops {
            continue;
        }
        for k in (0..n).filter(|&k| !in_tree[k]) {
            for sign in [1, -1] {
                let d = distance(&rows[k], Some((&rows[j], sign)));
                if d < best[k].0 && fits(d) {
                    best[k] = (d, Some((j, sign)));
                }
            }
        }
    }
    Some(parent)
}
