//! The hand-written library (`hdl/`), embedded: the stream parts and the
//! board parts, every module's source and the library modules it
//! instantiates.

/// The library, in the order its files are listed: a module's name, its
/// source, and the library modules it instantiates (listed before it).
const LIBRARY: [(&str, &str, &[&str]); 21] = [
    ("sk_skid", include_str!("../../hdl/sk_skid.v"), &[]),
    ("sk_readq", include_str!("../../hdl/sk_readq.v"), &[]),
    ("sk_fifo", include_str!("../../hdl/sk_fifo.v"), &["sk_readq"]),
    ("sk_dwc", include_str!("../../hdl/sk_dwc.v"), &[]),
    ("sk_window", include_str!("../../hdl/sk_window.v"), &[]),
    ("sk_argmax", include_str!("../../hdl/sk_argmax.v"), &[]),
    ("sk_argmax_pipe", include_str!("../../hdl/sk_argmax_pipe.v"), &["sk_argmax"]),
    ("sk_argmax_gather", include_str!("../../hdl/sk_argmax_gather.v"), &["sk_dwc", "sk_argmax"]),
    ("sk_maxpool", include_str!("../../hdl/sk_maxpool.v"), &["sk_window", "sk_argmax"]),
    ("sk_maxpool_serial", include_str!("../../hdl/sk_maxpool_serial.v"), &["sk_argmax"]),
    ("sk_relu", include_str!("../../hdl/sk_relu.v"), &[]),
    ("sk_vecbuf", include_str!("../../hdl/sk_vecbuf.v"), &["sk_readq"]),
    ("sk_addtree", include_str!("../../hdl/sk_addtree.v"), &[]),
    // Instantiated by sk_mvu only with its weights in SPRAM.
    ("sk_spram_rom", include_str!("../../hdl/sk_spram_rom.v"), &[]),
    ("sk_mul16", include_str!("../../hdl/sk_mul16.v"), &[]),
    ("sk_mvu", include_str!("../../hdl/sk_mvu.v"), &["sk_addtree"]),
    // The board library: the UART and the host link of a board top, and the
    // reader of weights from its flash.
    ("sk_uart_rx", include_str!("../../hdl/sk_uart_rx.v"), &[]),
    ("sk_uart_tx", include_str!("../../hdl/sk_uart_tx.v"), &[]),
    ("sk_link_rx", include_str!("../../hdl/sk_link_rx.v"), &[]),
    ("sk_link_tx", include_str!("../../hdl/sk_link_tx.v"), &[]),
    ("sk_flash_reader", include_str!("../../hdl/sk_flash_reader.v"), &[]),
];

/// The source of one module of the stream library, by file name.
pub fn library_file(name: &str) -> Option<&'static str> {
    LIBRARY.iter().find(|(n, _, _)| format!("{n}.v") == name).map(|(_, text, _)| *text)
}

/// The library files that modules `direct` need, directly or through other
/// library modules, in the library's order: (file name, source).
pub(crate) fn files(direct: &[&str]) -> Vec<(String, String)> {
    let mut used: Vec<bool> = LIBRARY.iter().map(|(n, _, _)| direct.contains(n)).collect();
    // Dependencies come before their users in the table: one pass from the end.
    for i in (0..LIBRARY.len()).rev() {
        if used[i] {
            for dep in LIBRARY[i].2 {
                let j = LIBRARY.iter().position(|(n, _, _)| n == dep).expect("a library module");
                used[j] = true;
            }
        }
    }
    LIBRARY
        .iter()
        .zip(used)
        .filter(|(_, u)| *u)
        .map(|((n, text, _), _)| (format!("{n}.v"), text.to_string()))
        .collect()
}
