//! The xen-store member of the Xen stack built as a plugin: `libvirtkit_driver_xen_store.so`.

virtkit_driver::export_plugin!(virtkit_xen_store_driver::StoreDriver);
