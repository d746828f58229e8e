//! Prints the QEMU driver's benchmark figures (what `cargo xtask bench` reports):
//! `cargo run --release -p virtkit-qemu-driver --example qemu_bench [-- SAMPLES]`.

fn main() {
    let samples = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    match virtkit_qemu_driver::bench::report(samples) {
        Ok(r) => print!("{r}"),
        Err(e) => {
            eprintln!("qemu bench: {e}");
            std::process::exit(1);
        }
    }
}
