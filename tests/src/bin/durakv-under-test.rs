//! The server under test: exactly `durakv-server`, built inside this package.

fn main() {
    durakv_runtime::main();
}
