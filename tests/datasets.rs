//! The datasets' three splits: Fashion-MNIST from Debian's
//! dataset-fashion-mnist package (skipped, loudly, where the package is not
//! installed; .ci/run installs it) and the embedded digits.

use std::collections::HashSet;
use std::io::Read;

use shiftkit::data::{
    load_digits, load_fashion_mnist, parse_idx, Dataset, Split, DIGITS_VAL_EVERY,
    FASHION_MNIST_DEFAULT_DIR, FASHION_VAL_EVERY,
};

/// Every row of a split, as bytes (features and label).
fn rows(s: &Split) -> Vec<Vec<u8>> {
    s.x.rows()
        .into_iter()
        .zip(&s.y)
        .map(|(r, &y)| r.iter().flat_map(|v| v.to_le_bytes()).chain([y]).collect())
        .collect()
}

/// No sample of the validation split is a training or test sample, by
/// content; and loading again gives the same splits.
fn check_disjoint_and_fixed(d: &Dataset, again: &Dataset) {
    let val: HashSet<Vec<u8>> = rows(&d.val).into_iter().collect();
    assert_eq!(val.len(), d.val.len(), "no sample twice in the validation split");
    for (name, other) in [("training", &d.train), ("test", &d.test)] {
        let shared = rows(other).iter().filter(|r| val.contains(*r)).count();
        assert_eq!(shared, 0, "{shared} validation samples are also {name} samples");
    }
    assert_eq!(d.train, again.train);
    assert_eq!(d.val, again.val);
    assert_eq!(d.test, again.test);
}

#[test]
fn digits_validation_split_is_disjoint_and_fixed() {
    let d = load_digits().unwrap();
    assert_eq!((d.train.len(), d.val.len(), d.test.len()), (1259, 179, 359));
    check_disjoint_and_fixed(&d, &load_digits().unwrap());
    // Validation rows are every DIGITS_VAL_EVERY-th of the training rows.
    let whole_train = d.train.len() + d.val.len();
    assert_eq!(d.val.len(), whole_train / DIGITS_VAL_EVERY);
}

#[test]
fn fashion_mnist_loads_with_its_fixed_splits() {
    let dir = std::path::Path::new(FASHION_MNIST_DEFAULT_DIR);
    if !dir.exists() {
        eprintln!(
            "SKIPPED: {FASHION_MNIST_DEFAULT_DIR} missing (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let d = load_fashion_mnist(dir).unwrap();
    assert_eq!((d.train.len(), d.val.len(), d.test.len()), (55_000, 5_000, 10_000));
    assert_eq!(d.train.x.ncols(), 784);
    assert!(d.train.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let mut counts = [0usize; 10];
    for &l in &d.test.y {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [1000; 10], "the test split is balanced");
    // The validation images are the published training images
    // FASHION_VAL_EVERY - 1, 2 * FASHION_VAL_EVERY - 1, ...
    let mut bytes = Vec::new();
    let file = std::fs::File::open(dir.join("train-images-idx3-ubyte.gz")).unwrap();
    flate2::read::GzDecoder::new(file).read_to_end(&mut bytes).unwrap();
    let published = parse_idx(&bytes).unwrap();
    for (k, row) in d.val.x.rows().into_iter().enumerate().step_by(499) {
        let i = k * FASHION_VAL_EVERY + FASHION_VAL_EVERY - 1;
        let pixels = &published.data[i * 784..(i + 1) * 784];
        assert!(row.iter().zip(pixels).all(|(&v, &p)| v == p as f32 / 255.0), "image {i}");
    }
    let mut val_counts = [0usize; 10];
    for &l in &d.val.y {
        val_counts[l as usize] += 1;
    }
    assert!(val_counts.iter().all(|&c| (400..=600).contains(&c)), "{val_counts:?}");
    check_disjoint_and_fixed(&d, &load_fashion_mnist(dir).unwrap());
}
