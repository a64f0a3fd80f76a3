//! Operation counts per inference: multiplications of a float network, and
//! the additions of an integer network's shift-add form (each weight is the
//! sum of its CSD terms, so a dot product of `t` terms and a bias costs `t`
//! adds, `t - 1` without a bias; a channel multiplier of `m` terms adds `m - 1`).

use crate::model::Network;
use crate::quant::contract::csd;
use crate::quant::{IntNetwork, Weighted};

/// Multiplications of one inference: every weight of a dense layer once, every
/// convolution weight once per output position; batch norm one per value.
pub fn float_mults(net: &Network) -> u64 {
    net.layers()
        .iter()
        .enumerate()
        .map(|(i, l)| l.op.macs(net.input_of(i), net.output_of(i)) as u64)
        .sum()
}

/// Additions of one inference of the shift-add datapath, and the nonzero
/// weights (the multiplications a multiplier design would still need).
pub fn shift_add_ops(net: &IntNetwork) -> (u64, u64) {
    let mut adds = 0u64;
    let mut mults = 0u64;
    for l in net.layers() {
        let Some(w) = l.op.weighted() else { continue };
        let positions = match l.output {
            crate::model::Shape::Image { h, w, .. } => (h * w) as u64,
            crate::model::Shape::Flat(_) => 1,
        };
        let (a, m) = weighted_ops(w);
        adds += a * positions;
        mults += m * positions;
    }
    (adds, mults)
}

fn weighted_ops(w: &Weighted) -> (u64, u64) {
    let mut adds = 0u64;
    let mut nonzero = 0u64;
    for j in 0..w.out_channels() {
        let row = w.row(j);
        let terms: u64 = row.iter().map(|&v| csd(v as i64).len() as u64).sum();
        nonzero += row.iter().filter(|&&v| v != 0).count() as u64;
        let operands = terms + u64::from(w.bias[j] != 0);
        adds += operands.saturating_sub(1);
        adds += (csd(w.multiplier(j)).len() as u64).saturating_sub(1);
    }
    (adds, nonzero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ArchSpec;

    #[test]
    fn mults_count_every_weight_use() {
        let net = ArchSpec::parse("mlp:10-5-3").unwrap().build(1).unwrap();
        assert_eq!(float_mults(&net), 10 * 5 + 5 * 3);
        // LeNet-5: conv1 28*28*6*25, conv2 10*10*16*150, fc 400*120 + 120*84 + 84*10.
        let lenet = ArchSpec::lenet5().build(1).unwrap();
        let expect = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10;
        assert_eq!(float_mults(&lenet), expect);
    }
}
