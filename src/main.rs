fn main() {
    println!("iocinit {}", env!("CARGO_PKG_VERSION"));
}
