//! iocinit's executable: one binary, many names (see `cli`).

fn main() {
    let code = iocinit::cli::main(std::env::args_os().collect());
    std::process::exit(code);
}
