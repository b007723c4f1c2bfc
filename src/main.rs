//! iocinit's executable: one binary, many names (see `cli`).

// Only in the build this tree's .cargo/config.toml makes (no unwind
// tables); a build elsewhere (Buildroot's, with its own std) keeps its
// unwinder.
#[cfg(all(iocinit_no_unwinder, panic = "abort", target_arch = "arm", target_env = "musl"))]
mod no_unwinder;

fn main() {
    let code = iocinit::cli::main(std::env::args_os().collect());
    std::process::exit(code);
}
