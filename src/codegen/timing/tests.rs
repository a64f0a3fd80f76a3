use super::*;

#[test]
fn a_skid_chain_passes_one_beat_per_cycle() {
    let t = simulate(&[Part::Skid, Part::Skid, Part::Skid], 4, 4, 3, 0, 1000).unwrap();
    // Three registers: the first beat leaves three cycles after it enters.
    let t0 = t.starts[0];
    assert_eq!(t.starts.iter().map(|c| c - t0).collect::<Vec<_>>(), [0, 4, 8]);
    assert_eq!(t.ends.iter().map(|c| c - t0).collect::<Vec<_>>(), [6, 10, 14]);
    assert_eq!(t.interval(), 4);
}

#[test]
fn a_folded_pipe_takes_one_beat_per_cycle_and_emits_per_fold() {
    // Two folds of three chunks: six beats in, two out per vector.
    let parts = [Part::Skid, Part::Pipe { depth: 4, chunks: 3 }, Part::Skid];
    let t = simulate(&parts, 6, 2, 4, 0, 1000).unwrap();
    assert_eq!(t.interval(), 6);
}

#[test]
fn a_window_with_padding_takes_a_step_per_padded_pixel() {
    // 4x4 image, 3x3 kernel, padding 1: 36 steps, 16 windows of one beat.
    let window = Part::Window {
        h: 4,
        w: 4,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        ph: 1,
        pw: 1,
        beats: 1,
        repeat: 1,
        compact: false,
    };
    let t = simulate(&[Part::Skid, window, Part::Skid], 16, 16, 3, 0, 10_000).unwrap();
    assert_eq!(t.interval(), 36);
}

#[test]
fn a_vector_buffer_overlaps_writing_and_sending() {
    // 4 words sent 3 times: 12 cycles per vector, the writer keeps up.
    let parts = [Part::Skid, Part::Vecbuf { words: 4, repeat: 3 }, Part::Skid];
    let t = simulate(&parts, 4, 12, 5, 0, 1000).unwrap();
    assert_eq!(t.interval(), 12);
}

#[test]
fn a_chain_that_cannot_finish_is_reported() {
    // A window that needs more input than the images give never ends.
    let window = Part::Window {
        h: 2,
        w: 2,
        kh: 1,
        kw: 1,
        sh: 1,
        sw: 1,
        ph: 0,
        pw: 0,
        beats: 1,
        repeat: 1,
        compact: false,
    };
    let e = simulate(&[window], 3, 4, 2, 0, 500).unwrap_err();
    assert_eq!(e.images, 2);
}
