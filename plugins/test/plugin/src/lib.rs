//! The test driver built as a plugin: `libvirtkit_driver_test.so`.

virtkit_driver::export_plugin!(virtkit_test_driver::TestDriver);
