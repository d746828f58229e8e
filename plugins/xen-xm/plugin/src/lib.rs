//! The xen-xm member of the Xen stack built as a plugin: `libvirtkit_driver_xen_xm.so`.

virtkit_driver::export_plugin!(virtkit_xen_xm_driver::XmDriver);
