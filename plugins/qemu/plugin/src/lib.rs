//! The QEMU driver built as a plugin: `libvirtkit_driver_qemu.so`.

virtkit_driver::export_plugin!(virtkit_qemu_driver::QemuDriver);
