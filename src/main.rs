//! iocinit's executable: one binary, many names (see `cli`).

fn main() {
    let code = iocinit::cli::main(std::env::args().collect());
    std::process::exit(code);
}
