//! Training subsets: an equal share of each class, the first in the split's
//! order (`--train-samples`).

use super::{DataError, Dataset, Split};

impl Split {
    /// The first `n` samples taken class by class, in their order: each of
    /// the `classes` classes gives `n / classes` samples, and the first
    /// `n % classes` classes one more. `None` when `n` is more than
    /// [`Split::balanced_capacity`].
    pub fn balanced_head(&self, n: usize, classes: usize) -> Option<Split> {
        if n > self.balanced_capacity(classes) {
            return None;
        }
        let share = |c: usize| n / classes + usize::from(c < n % classes);
        let mut taken = vec![0usize; classes];
        let rows: Vec<usize> = (0..self.len())
            .filter(|&i| {
                let c = usize::from(self.y[i]);
                let keep = c < classes && taken[c] < share(c);
                if keep {
                    taken[c] += 1;
                }
                keep
            })
            .collect();
        Some(self.select(&rows))
    }

    /// The most samples [`Split::balanced_head`] can take: every class gives
    /// as many as the rarest has, and the classes before the first that has
    /// no more give one more each.
    pub fn balanced_capacity(&self, classes: usize) -> usize {
        let mut count = vec![0usize; classes];
        for &l in &self.y {
            if let Some(c) = count.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        let Some(&rarest) = count.iter().min() else { return 0 };
        classes * rarest + count.iter().take_while(|&&c| c > rarest).count()
    }
}

impl Dataset {
    /// Keeps `n` training samples, as many of each class as the others (see
    /// [`Split::balanced_head`]): learning curves, quick runs, distillation
    /// from few samples. The validation and test splits stay whole.
    pub fn keep_train_samples(&mut self, n: usize) -> Result<(), DataError> {
        let most = self.train.balanced_capacity(self.classes);
        let error = |reason: String| DataError::TrainSamples {
            asked: n,
            classes: self.classes,
            most,
            reason,
        };
        if n < self.classes {
            return Err(error(format!("that is fewer than the {} classes", self.classes)));
        }
        self.train = self.train.balanced_head(n, self.classes).ok_or_else(|| {
            error(format!(
                "the {} training split ({} samples) has {most} at most with an equal share of \
                 each class",
                self.name,
                self.train.len()
            ))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_digits;
    use super::*;
    use ndarray::Array2;

    #[test]
    fn balanced_head_takes_each_class_share_in_order() {
        let y = vec![0u8, 0, 1, 0, 2, 1, 2, 0, 1, 2];
        let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f32);
        let s = Split { x, y };
        // 7 of 3 classes: 3 of class 0, 2 each of 1 and 2.
        let h = s.balanced_head(7, 3).unwrap();
        assert_eq!(h.y, vec![0, 0, 1, 0, 2, 1, 2]);
        assert_eq!(h.x.column(0).to_vec(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let h = s.balanced_head(3, 3).unwrap();
        assert_eq!(h.x.column(0).to_vec(), vec![0.0, 2.0, 4.0]);
        // Classes 1 and 2 have 3 each: 3 of every class and one more of class 0.
        assert_eq!(s.balanced_capacity(3), 10);
        assert!(s.balanced_head(10, 3).is_some() && s.balanced_head(11, 3).is_none());
        // 4, 3 and 2: two of each, and a third of classes 0 and 1.
        assert_eq!(s.head(9).balanced_capacity(3), 8);
        // 3, 2 and 2 (class 0 alone has a third): 7.
        assert_eq!(s.head(7).balanced_capacity(3), 7);
    }

    proptest::proptest! {
        /// Up to the capacity, every class gives its share and the samples
        /// keep their order; past it, the split is refused; and one more
        /// than the capacity would need a class to give more than it has.
        #[test]
        fn balanced_head_gives_each_class_its_share(
            y in proptest::collection::vec(0u8..4, 0..60),
            n in 0usize..40,
        ) {
            let x = Array2::from_shape_fn((y.len(), 1), |(i, _)| i as f32);
            let s = Split { x, y: y.clone() };
            let share = |n: usize, c: usize| n / 4 + usize::from(c < n % 4);
            let have = |c: usize| y.iter().filter(|&&l| usize::from(l) == c).count();
            let fits = |n: usize| (0..4).all(|c| have(c) >= share(n, c));
            let most = s.balanced_capacity(4);
            proptest::prop_assert!(fits(most) && !fits(most + 1));
            match s.balanced_head(n, 4) {
                Some(h) => {
                    proptest::prop_assert!(n <= most);
                    proptest::prop_assert_eq!(h.len(), n);
                    let rows = h.x.column(0).to_vec();
                    proptest::prop_assert!(rows.windows(2).all(|w| w[0] < w[1]));
                    for c in 0..4 {
                        let got = h.y.iter().filter(|&&l| usize::from(l) == c).count();
                        proptest::prop_assert_eq!(got, share(n, c));
                    }
                    for (&row, &label) in rows.iter().zip(&h.y) {
                        proptest::prop_assert_eq!(y[row as usize], label);
                    }
                }
                None => proptest::prop_assert!(n > most),
            }
        }
    }

    #[test]
    fn keeping_train_samples_checks_the_number_and_leaves_val_and_test() {
        let mut d = load_digits().unwrap();
        let (val, test) = (d.val.clone(), d.test.clone());
        d.keep_train_samples(105).unwrap();
        assert_eq!(d.train.len(), 105);
        for c in 0..10u8 {
            let count = d.train.y.iter().filter(|&&l| l == c).count();
            assert_eq!(count, if c < 5 { 11 } else { 10 }, "class {c}");
        }
        assert_eq!((d.val, d.test), (val, test));
        let mut d = load_digits().unwrap();
        let most = d.train.balanced_capacity(10);
        assert!(most > 1000 && most < d.train.len(), "{most}");
        d.keep_train_samples(most).unwrap();
        let mut d = load_digits().unwrap();
        for n in [0, 9, most + 1, 1259, 5000] {
            let e = d.keep_train_samples(n).unwrap_err().to_string();
            assert!(e.contains(&format!("cannot train on {n} samples")), "{e}");
            assert!(e.contains(&format!("from 10 (one of each class) to {most}")), "{e}");
        }
        assert_eq!(d.train.len(), 1259, "a refused number leaves the split whole");
    }
}
