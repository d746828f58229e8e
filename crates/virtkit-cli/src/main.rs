//! The `virtkit` binary: the CLI with the test driver linked in, so that `test:///default` works
//! with no plugin installed (a `libvirtkit_driver_test.so` in the driver directories wins).

virtkit::register_static_driver!(virtkit_test_driver::test_driver_entry);

fn main() {
    std::process::exit(virtkit_cli::main());
}
