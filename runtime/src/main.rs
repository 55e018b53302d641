//! `durakv-server`: see the library for everything it does.

fn main() {
    durakv_runtime::main();
}
