//! The `faultline-node` binary (being built, issue 3).

fn main() {
    eprintln!("faultline-node: not built yet");
    std::process::exit(3);
}
