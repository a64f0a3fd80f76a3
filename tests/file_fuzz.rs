//! Random bytes, truncations and bit flips of the files a user hands the
//! tool never panic: quantized model files (the integer section too), vector
//! files and recipes. (Float model files and ONNX: `tests/model_file.rs`,
//! `tests/onnx.rs`.)

mod common;

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use shiftkit::compress::Recipe;
use shiftkit::model::{Container, ModelFile};
use shiftkit::quant::{self, FixedFormat, QuantizeConfig, WeightSpec};
use shiftkit::sim::{parse_real_vectors, parse_vectors};

/// The bytes of a quantized model file (INQ-5 weights, biases, formats).
fn quantized_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let (net, d) = common::trained_digits("mlp:64-12-10", 2, 1);
        let q = quant::quantize(
            &net,
            d.train.x.view(),
            &QuantizeConfig::new(WeightSpec::Pow2 { bits: 5 }, 8, 8),
        )
        .unwrap();
        let mut c = ModelFile::new(net, Default::default()).into_container();
        quant::write_integer(&q, &mut c);
        c.to_bytes()
    })
}

/// Reads bytes as `shiftkit` does: the container, the float network, the
/// integer network (each validated).
fn read(bytes: &[u8]) -> bool {
    let path = Path::new("q.skm");
    let Ok(c) = Container::from_bytes(bytes, path) else { return false };
    let integer = quant::read_integer(&c);
    let float = ModelFile::from_container(c, path);
    float.is_ok() && matches!(integer, Ok(Some(_)))
}

const RECIPE: &str = "[train]\nlr = 0.01\nbatch = 32\n[distill]\ntemperature = 3.0\n\
    [quantize]\nweights = \"fixed6\"\ncalibration = 100\n\
    [[step]]\nmethod = \"prune\"\nsparsity = 0.5\nscope = \"global\"\niterations = 2\n\
    [[step]]\nmethod = \"inq\"\nbits = 4\nlayer_bits = { fc1 = 3 }\nschedule = [0.5, 1.0]\n";

#[test]
fn the_samples_are_valid() {
    assert!(read(quantized_bytes()));
    assert!(Recipe::parse(RECIPE, Path::new(".")).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn flipped_quantized_models_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = quantized_bytes().to_vec();
        for (i, v) in flips {
            let at = i.index(bytes.len());
            bytes[at] ^= v | 1;
        }
        let _ = read(&bytes);
    }

    #[test]
    fn truncated_quantized_models_are_errors(cut in any::<prop::sample::Index>()) {
        let bytes = quantized_bytes();
        let len = cut.index(bytes.len());
        prop_assert!(!read(&bytes[..len]), "cut to {} of {} bytes, yet read", len, bytes.len());
    }

    #[test]
    fn random_vector_text_never_panics(text in "[-0-9 .,eE+\\n\\tnaif]{0,200}", width in 0usize..6, bits in 1u32..20, signed: bool) {
        let format = FixedFormat::new(signed, bits.max(2), 0).unwrap();
        let _ = parse_vectors(&text, width, format);
        let _ = parse_real_vectors(&text, width);
    }

    #[test]
    fn random_recipe_text_never_panics(text in "[-a-z0-9_=\\[\\]{}\".,\\n ]{0,300}") {
        let _ = Recipe::parse(&text, Path::new("."));
    }

    #[test]
    fn mutated_recipes_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), 32u8..127), 1..6)) {
        let mut bytes = RECIPE.as_bytes().to_vec();
        for (i, v) in flips {
            let at = i.index(bytes.len());
            bytes[at] = v;
        }
        let _ = Recipe::parse(&String::from_utf8_lossy(&bytes), Path::new("."));
    }
}
