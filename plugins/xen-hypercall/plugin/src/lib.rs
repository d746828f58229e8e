//! The xen-hypercall member of the Xen stack built as a plugin: `libvirtkit_driver_xen_hypercall.so`.

virtkit_driver::export_plugin!(virtkit_xen_hypercall_driver::HypercallDriver);
