//! Fashion-MNIST from Debian's dataset-fashion-mnist package. Skipped, loudly,
//! where the package is not installed (.ci/run installs it).

use shiftkit::data::{load_fashion_mnist, FASHION_MNIST_DEFAULT_DIR};

#[test]
fn fashion_mnist_loads_with_its_standard_split() {
    let dir = std::path::Path::new(FASHION_MNIST_DEFAULT_DIR);
    if !dir.exists() {
        eprintln!(
            "SKIPPED: {FASHION_MNIST_DEFAULT_DIR} missing (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let d = load_fashion_mnist(dir).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!(d.train.x.ncols(), 784);
    assert!(d.train.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let mut counts = [0usize; 10];
    for &l in &d.test.y {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [1000; 10], "the test split is balanced");
}
