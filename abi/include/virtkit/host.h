/*
 * virtkit/host.h - host services: what the virtkit core does for its drivers (ABI 1.2).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Included by <virtkit/driver.h> when the target ABI minor is 1.2 or later; it may also be
 * included on its own. Hand-written like driver.h and checked by the same test
 * (abi/tests/c_header.rs) against the Rust crate `virtkit-abi` (abi/src/host.rs).
 *
 * HOW A DRIVER GETS THEM
 *
 * Set header.host_init to a function that stores the pointer it receives:
 *
 *     static const vk_host_services *host;
 *     static void toy_host_init(const vk_host_services *h) { host = h; }
 *     ... .header = { ..., .host_init = toy_host_init } ...
 *
 * The core calls it once, after validating the table and before the first open; the table
 * stays valid for the life of the process (it may be called again, with the same pointer).
 * A core older than 1.2 never calls it: a driver that must also run there checks `host` for
 * NULL (and declines or fails its open with a clear message).
 *
 * THE RULES
 *
 *  - The table is append-only: a field is never removed, reordered or retyped. struct_size says
 *    how long the host's table is; before using a field added after 1.2, check
 *    VK_HOST_HAS(host, field). Every field within struct_size is non-NULL.
 *  - Results come back through a callback the driver passes (visit), called once with a view
 *    that is valid only until the callback returns: copy what you keep (the view's `xml` is the
 *    whole definition, formatted by the host - keeping that string is usually enough). Text
 *    results go into a vk_str_sink. Nothing the host allocates is freed by the driver.
 *  - Every service returns VK_OK or a vk_error_code; on error it has already called the error
 *    sink passed to it (pass the one your entry received) with the message for the user, so an
 *    entry simply returns the code.
 *  - The views' structs are frozen for ABI major 1 (a struct_size first tells how the host
 *    built them); later information comes in fields appended at their end.
 */
#ifndef VIRTKIT_HOST_H
#define VIRTKIT_HOST_H

#include "driver.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Format flag: include secrets (libvirt's VIR_DOMAIN_XML_SECURE). */
#define VK_HOST_XML_SECURE (1u << 0)
/** Format flag: the persistent definition, no id or live-only state (VIR_DOMAIN_XML_INACTIVE). */
#define VK_HOST_XML_INACTIVE (1u << 1)
/** Parse flag: a new definition; drop what only a running guest had (generated interface
 *  names, pty paths, autoport VNC ports), as libvirt does when it defines or creates. */
#define VK_HOST_PARSE_NEW_DEFINITION (1u << 0)

/** One query parameter of a URI, percent-decoded. */
typedef struct vk_uri_param {
    vk_str name;
    vk_str value;  /**< Empty for `?flag`. */
} vk_uri_param;

/** A parsed connection URI; absent parts are empty strings. */
typedef struct vk_uri_view {
    uint32_t struct_size;          /**< sizeof(vk_uri_view) as the host built it. */
    int32_t port;                  /**< The port, or -1. */
    vk_str scheme;                 /**< Without transport, lower-cased: "qemu" in qemu+ssh://. */
    vk_str transport;              /**< After '+': "ssh". */
    vk_str user;                   /**< Before '@'. */
    vk_str host;                   /**< The host (IPv6 without brackets); empty in toyhv:///. */
    vk_str path;                   /**< Percent-decoded: "/system", "/", "". */
    const vk_uri_param *params;    /**< Query parameters, in order. */
    size_t n_params;               /**< Number of entries in `params`. */
} vk_uri_view;

/** One <disk> of a domain; empty strings for what the document does not say. */
typedef struct vk_disk_view {
    vk_str disk_type;    /**< "file" or "block". */
    vk_str device;       /**< "disk", "cdrom" or "floppy". */
    vk_str driver_name;  /**< <driver name>. */
    vk_str driver_type;  /**< <driver type> (the format). */
    vk_str source;       /**< The host path (<source file|dev>). */
    vk_str target_dev;   /**< <target dev>. */
    vk_str target_bus;   /**< <target bus>. */
    uint32_t readonly;   /**< 1 when <readonly/>. */
    uint32_t shareable;  /**< 1 when <shareable/>. */
} vk_disk_view;

/** One <interface> of a domain. */
typedef struct vk_interface_view {
    vk_str if_type;     /**< "bridge", "network", "user", "ethernet", ... */
    vk_str source;      /**< The bridge, network or device of <source>, when it has one. */
    vk_str mac;         /**< <mac address>. */
    vk_str model;       /**< <model type>. */
    vk_str target_dev;  /**< <target dev>. */
} vk_interface_view;

/** A validated domain definition. */
typedef struct vk_domain_view {
    uint32_t struct_size;                 /**< sizeof(vk_domain_view) as the host built it. */
    int32_t id;                           /**< The id attribute, or -1. */
    vk_str domain_type;                   /**< type: one the connection accepts. */
    vk_str name;                          /**< <name>. */
    uint8_t uuid[16];                     /**< <uuid> (generated when absent). */
    uint64_t memory_kib;                  /**< <memory>, KiB. */
    uint64_t current_memory_kib;          /**< <currentMemory>, KiB. */
    uint32_t vcpus;                       /**< <vcpu>. */
    uint32_t reserved;                    /**< Always 0. */
    vk_str os_type;                       /**< <os><type>: "hvm", "xen", "linux", "exe", ... */
    vk_str arch;                          /**< <os><type arch>. */
    vk_str kernel;                        /**< <os><kernel>. */
    vk_str initrd;                        /**< <os><initrd>. */
    vk_str cmdline;                       /**< <os><cmdline>. */
    const vk_disk_view *disks;            /**< <disk>s. */
    size_t n_disks;                       /**< Number of entries in `disks`. */
    const vk_interface_view *interfaces;  /**< <interface>s. */
    size_t n_interfaces;                  /**< Number of entries in `interfaces`. */
    vk_str xml;                           /**< The whole definition formatted by the host
                                               (inactive form): keep it, and hand it to
                                               format_domain to answer GetXMLDesc. */
} vk_domain_view;

/** Changes format_domain applies before formatting. */
typedef struct vk_domain_edit {
    uint32_t struct_size;         /**< sizeof(vk_domain_edit). */
    int32_t id;                   /**< The id to write (a running domain), or -1 for none. */
    uint64_t memory_kib;          /**< New <memory> in KiB, or 0 to keep. */
    uint64_t current_memory_kib;  /**< New <currentMemory> in KiB, or 0 to keep. */
    uint32_t vcpus;               /**< New <vcpu>, or 0 to keep. */
    uint32_t reserved;            /**< Always 0. */
} vk_domain_edit;

/** One <ip> of a network. */
typedef struct vk_network_ip_view {
    vk_str address;     /**< address. */
    vk_str netmask;     /**< netmask (empty when given as prefix). */
    uint32_t prefix;    /**< prefix, or 0. */
    uint32_t reserved;  /**< Always 0. */
    vk_str dhcp_start;  /**< First <dhcp><range start>, or empty. */
    vk_str dhcp_end;    /**< First <dhcp><range end>, or empty. */
} vk_network_ip_view;

/** A validated network definition. */
typedef struct vk_network_view {
    uint32_t struct_size;          /**< sizeof(vk_network_view) as the host built it. */
    uint32_t reserved;             /**< Always 0. */
    vk_str name;                   /**< <name>. */
    uint8_t uuid[16];              /**< <uuid> (generated when absent). */
    vk_str bridge;                 /**< <bridge name>. */
    vk_str forward_mode;           /**< <forward mode>; empty for an isolated network. */
    vk_str forward_dev;            /**< <forward dev>. */
    const vk_network_ip_view *ips; /**< <ip>s. */
    size_t n_ips;                  /**< Number of entries in `ips`. */
    vk_str xml;                    /**< The whole definition formatted by the host. */
} vk_network_view;

/** Receives a parsed URI; the view is valid only during the call. */
typedef void (*vk_uri_visit_fn)(void *ctx, const vk_uri_view *uri);
/** Receives a parsed domain; the view is valid only during the call. */
typedef void (*vk_domain_visit_fn)(void *ctx, const vk_domain_view *dom);
/** Receives a parsed network; the view is valid only during the call. */
typedef void (*vk_network_visit_fn)(void *ctx, const vk_network_view *net);

/** The host services table (ABI 1.2). */
typedef struct vk_host_services {
    uint32_t struct_size;  /**< sizeof(vk_host_services) as the host built it. */
    uint16_t abi_major;    /**< The host's ABI major version. */
    uint16_t abi_minor;    /**< The host's ABI minor version. */
    /** Reports an error through `err`, worded as the core words it: `message` gets libvirt's
     *  prefix for `code` ("Domain not found: ", "invalid argument: ", "XML error: ", ...).
     *  Returns `code`: `return host->report_error(err, VK_ERR_NO_DOMAIN, msg);`. */
    int32_t (*report_error)(const vk_error_sink *err, int32_t code, vk_str message);
    /** Parses a connection URI and calls visit(ctx, view) once. */
    int32_t (*parse_uri)(vk_str uri, vk_uri_visit_fn visit, void *ctx,
                         const vk_error_sink *err);
    /** Parses and validates domain XML (flags: VK_HOST_PARSE_*) and calls visit once. */
    int32_t (*parse_domain)(vk_str xml, uint32_t flags, vk_domain_visit_fn visit, void *ctx,
                            const vk_error_sink *err);
    /** Formats domain XML (typically a view's `xml`) after applying `edit` (may be NULL) with
     *  VK_HOST_XML_* flags, into `out`. Without an id (edit->id < 0) the inactive form. */
    int32_t (*format_domain)(vk_str xml, const vk_domain_edit *edit, uint32_t flags,
                             const vk_str_sink *out, const vk_error_sink *err);
    /** Parses and validates network XML and calls visit once. */
    int32_t (*parse_network)(vk_str xml, vk_network_visit_fn visit, void *ctx,
                             const vk_error_sink *err);
} vk_host_services;

/** Whether the host's table has `field` (for fields appended after ABI 1.2). */
#define VK_HOST_HAS(host, field)                                                   \
    ((host) != NULL && offsetof(vk_host_services, field) + sizeof((host)->field) <= \
                           (size_t)(host)->struct_size)

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* VIRTKIT_HOST_H */
