//! iocinit's executable: one binary, many names (see `cli`).

#[cfg(all(panic = "abort", target_arch = "arm", target_env = "musl"))]
mod no_unwinder;

fn main() {
    let code = iocinit::cli::main(std::env::args_os().collect());
    std::process::exit(code);
}
