/*
 * virtkit/driver.h - the contract between the virtkit core and its driver plugins, ABI 1.3.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * This header is hand-written. It describes, for C and C++ driver authors, exactly the layout
 * that the Rust crate `virtkit-abi` (abi/src/lib.rs) defines; the test abi/tests/c_header.rs
 * compiles it and compares every size, offset, field type and constant with the crate. Requires
 * C99 (or C++98 with <stdint.h>). Pointers are 64-bit (the header is laid out for LP64).
 *
 * BUILDING FOR AN OLDER CORE
 *
 * A plugin runs in every core whose ABI minor is at least the one it was built for. To build
 * for the oldest core you support, define VK_TARGET_ABI_MINOR before including this header
 * (or pass -DVK_TARGET_ABI_MINOR=0): the table then has exactly the slots of that minor,
 * VK_ABI_MINOR (which you write into header.abi_minor) is that minor, and what later minors
 * added is absent, so using it does not compile. Without the define, the latest minor is the
 * target. `pkg-config --cflags virtkit-driver` gives the include directory.
 *
 *   1.0  the libvirt 0.4-era API (55 slots)
 *   1.1  + persistence, managed save, security model and label, state with reason, native
 *        format conversions, network activity and persistence (64 slots)
 *   1.2  + host services (<virtkit/host.h>, handed over through header.host_init): URI and
 *        domain/network XML parsing, XML formatting, error wording; memory with flags
 *        (65 slots)
 *   1.3  + a domain's messages: taints and deprecations (66 slots)
 *
 * THE BOUNDARY
 *
 * A driver plugin is a shared object exporting one symbol,
 *
 *     const vk_driver_table *virtkit_driver_entry(void);
 *
 * returning a pointer to a table that stays valid, unchanged, for the life of the process
 * (plugins are loaded once and never unloaded). The table is a vk_driver_header followed by one
 * nullable function pointer ("slot") per operation, in the order of enum vk_op. A NULL slot
 * means the driver does not implement the operation; the core then reports VK_ERR_NO_SUPPORT
 * on its behalf.
 *
 * COMPATIBILITY RULE
 *
 *  - The header (vk_driver_header) is frozen for the whole major version 1. Its reserved
 *    words must be zero; a later minor may give one a meaning (1.2: host_init), and the
 *    loader refuses a table declaring an older minor where such a word is not zero.
 *  - The slot list is append-only: a slot is never removed, reordered or retyped. A new
 *    operation is added at the end of the table and VK_ABI_MINOR is bumped; each slot's comment
 *    gives the minor version that added it.
 *  - header.struct_size must be sizeof(vk_driver_table) as the plugin was compiled (the header
 *    plus a whole number of slots), which is exactly the size of the declared minor's table;
 *    the loader refuses any other size. It tells the core how many slots the table has.
 *  - A plugin built against 1.m loads into any core 1.n. When m < n, the plugin's table is
 *    shorter: the core copies what is there and every slot past the plugin's struct_size reads
 *    as NULL. When m > n, the core uses the slots it knows and ignores the others, with their
 *    capability bits.
 *  - A plugin whose abi_major differs from the core's VK_ABI_MAJOR is refused, as is a table
 *    whose magic is not VK_MAGIC.
 *  - Capability bit i (header.caps, see VK_CAP_SET) is set exactly when slot i is non-NULL,
 *    for every slot the plugin's table has; no bit is set past them. The loader refuses a
 *    table where the two disagree.
 *
 * WHAT THE LOADER REQUIRES OF A TABLE
 *
 *  - open and close are non-NULL; every other slot is optional.
 *  - name is non-empty lower-case ASCII letters, digits, '-' or '_' (e.g. "xen-xend").
 *  - version is a semantic version ("1.2.0").
 *  - at least one scheme (schemes, n_schemes), each a valid URI scheme ("test", "xen+ssh").
 *    The plugin file is named libvirtkit_driver_<scheme>.so or
 *    libvirtkit_driver_<scheme>_<member>.so so that the loader finds it for that scheme.
 *
 * MEMORY AND STRINGS
 *
 *  - Nothing allocated on one side of the boundary is freed on the other. Results flow back
 *    through sinks (vk_str_sink, vk_int_sink, ...) that the host provides and owns: the driver
 *    calls the sink, the host copies what it receives before the sink returns. Fixed-size
 *    results (vk_domain_info, counts, ...) are written into host-provided storage.
 *  - Strings are UTF-8 (pointer, length) pairs (vk_str), not NUL-terminated. A vk_str the core
 *    passes to a driver, and every pointer handed to a sink, is valid only for the duration of
 *    that call; copy what you keep. The strings in the header point at static data.
 *  - Domain and network definitions cross as XML text.
 *
 * CALLS AND ERRORS
 *
 *  - Every entry except close returns VK_OK on success. On failure it calls err->set once
 *    with a vk_error_code and a message, and returns that same code. open may instead return
 *    VK_DECLINED, without setting an error, when it does not serve the URI.
 *  - `conn` is the opaque handle the driver stored through open's conn_out; the core passes it
 *    back to every later entry of that connection and finally to close.
 *  - A driver that sets VK_DRIVER_THREAD_SAFE accepts calls to every entry from several
 *    threads at once, for the same or different connections.
 */
#ifndef VIRTKIT_DRIVER_H
#define VIRTKIT_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Versions, sizes, flags                                                                   */
/* ---------------------------------------------------------------------------------------- */

/** Magic number at the start of every table: the bytes "VKDR" read as a little-endian u32. */
#define VK_MAGIC 0x52444B56u
/** The ABI major version this header describes. */
#define VK_ABI_MAJOR 1
/** The latest ABI minor version this header describes. */
#define VK_ABI_LATEST_MINOR 3
#ifndef VK_TARGET_ABI_MINOR
/** The ABI minor the plugin is built for (define it before including to target an older
 *  core; see BUILDING FOR AN OLDER CORE). */
#define VK_TARGET_ABI_MINOR VK_ABI_LATEST_MINOR
#endif
#if VK_TARGET_ABI_MINOR < 0 || VK_TARGET_ABI_MINOR > VK_ABI_LATEST_MINOR
#error "VK_TARGET_ABI_MINOR must be 0, 1, 2 or 3 with this <virtkit/driver.h>"
#endif
/** The ABI minor version the table is built for: write it into header.abi_minor. */
#define VK_ABI_MINOR VK_TARGET_ABI_MINOR
/** Name of the exported entry symbol (for dlsym). */
#define VIRTKIT_DRIVER_ENTRY "virtkit_driver_entry"
/** Number of 64-bit words in the capability bitset. */
#define VK_CAP_WORDS 4
/** Number of operations the capability bitset can describe. */
#define VK_MAX_OPS (VK_CAP_WORDS * 64)

/** Driver flag: every entry may be called from several threads at once. */
#define VK_DRIVER_THREAD_SAFE (1u << 0)
/** Driver flag: the driver needs root privileges for its system URIs. */
#define VK_DRIVER_NEEDS_ROOT (1u << 1)
/** Driver flag: the driver is one member of a stack of drivers serving the same scheme. */
#define VK_DRIVER_STACK_MEMBER (1u << 2)

/** Open flag: the connection is read-only. The core already refuses mutating calls; drivers
 *  may use the flag to open their back end read-only. */
#define VK_OPEN_READ_ONLY (1u << 0)

/** Status returned by open when the driver does not serve the URI (libvirt's
 *  VIR_DRV_OPEN_DECLINED). Any other non-zero status is an error code. */
#define VK_DECLINED (-1)
/** Status returned by every entry on success. */
#define VK_OK 0

/* libvirt's flag bits for the `flags` arguments, with libvirt's values (VIR_ becomes VK_). */

/** VIR_DOMAIN_XML_SECURE (domain_get_xml_desc): include security-sensitive data. */
#define VK_DOMAIN_XML_SECURE (1u << 0)
/** VIR_DOMAIN_XML_INACTIVE (domain_get_xml_desc): the persistent definition, not the live one. */
#define VK_DOMAIN_XML_INACTIVE (1u << 1)
/** VIR_DOMAIN_START_PAUSED (domain_create_xml): leave the new guest paused. */
#define VK_DOMAIN_START_PAUSED (1u << 0)
/** VIR_DUMP_CRASH (domain_core_dump): stop the guest after the dump. */
#define VK_DUMP_CRASH (1u << 0)
/** VIR_NETWORK_XML_INACTIVE (network_get_xml_desc): the persistent definition. */
#define VK_NETWORK_XML_INACTIVE (1u << 0)
/** VIR_DOMAIN_AFFECT_CURRENT: the live guest when it runs, else its persistent definition. */
#define VK_DOMAIN_AFFECT_CURRENT 0u
/** VIR_DOMAIN_AFFECT_LIVE: the running guest. */
#define VK_DOMAIN_AFFECT_LIVE (1u << 0)
/** VIR_DOMAIN_AFFECT_CONFIG: the persistent definition. */
#define VK_DOMAIN_AFFECT_CONFIG (1u << 1)
/** VIR_DOMAIN_MEM_MAXIMUM (domain_set_memory_flags): the maximum memory, not the current. */
#define VK_DOMAIN_MEM_MAXIMUM (1u << 2)
/** VIR_DOMAIN_MESSAGE_DEPRECATION (domain_get_messages): the deprecated configuration in use. */
#define VK_DOMAIN_MESSAGE_DEPRECATION (1u << 0)
/** VIR_DOMAIN_MESSAGE_TAINTING (domain_get_messages): the taints (no flag: both kinds). */
#define VK_DOMAIN_MESSAGE_TAINTING (1u << 1)

/* ---------------------------------------------------------------------------------------- */
/* Operation indices: slot positions and capability bits                                    */
/* ---------------------------------------------------------------------------------------- */

/** Slot index of every operation. Slot i lives at
 *  sizeof(vk_driver_header) + i * VK_SLOT_SIZE in the table. */
typedef enum vk_op {
    VK_OP_OPEN = 0,
    VK_OP_CLOSE = 1,
    VK_OP_GET_TYPE = 2,
    VK_OP_GET_VERSION = 3,
    VK_OP_GET_HOSTNAME = 4,
    VK_OP_GET_CAPABILITIES = 5,
    VK_OP_NODE_GET_INFO = 6,
    VK_OP_GET_MAX_VCPUS = 7,
    VK_OP_LIST_DOMAINS = 8,
    VK_OP_NUM_OF_DOMAINS = 9,
    VK_OP_LIST_DEFINED_DOMAINS = 10,
    VK_OP_NUM_OF_DEFINED_DOMAINS = 11,
    VK_OP_DOMAIN_LOOKUP_BY_ID = 12,
    VK_OP_DOMAIN_LOOKUP_BY_UUID = 13,
    VK_OP_DOMAIN_LOOKUP_BY_NAME = 14,
    VK_OP_DOMAIN_CREATE_XML = 15,
    VK_OP_DOMAIN_DEFINE_XML = 16,
    VK_OP_DOMAIN_UNDEFINE = 17,
    VK_OP_DOMAIN_CREATE = 18,
    VK_OP_DOMAIN_SHUTDOWN = 19,
    VK_OP_DOMAIN_REBOOT = 20,
    VK_OP_DOMAIN_DESTROY = 21,
    VK_OP_DOMAIN_SUSPEND = 22,
    VK_OP_DOMAIN_RESUME = 23,
    VK_OP_DOMAIN_SAVE = 24,
    VK_OP_DOMAIN_RESTORE = 25,
    VK_OP_DOMAIN_CORE_DUMP = 26,
    VK_OP_DOMAIN_GET_INFO = 27,
    VK_OP_DOMAIN_GET_XML_DESC = 28,
    VK_OP_DOMAIN_GET_OS_TYPE = 29,
    VK_OP_DOMAIN_GET_MAX_MEMORY = 30,
    VK_OP_DOMAIN_SET_MAX_MEMORY = 31,
    VK_OP_DOMAIN_SET_MEMORY = 32,
    VK_OP_DOMAIN_SET_VCPUS = 33,
    VK_OP_DOMAIN_PIN_VCPU = 34,
    VK_OP_DOMAIN_GET_VCPUS = 35,
    VK_OP_DOMAIN_GET_AUTOSTART = 36,
    VK_OP_DOMAIN_SET_AUTOSTART = 37,
    VK_OP_DOMAIN_ATTACH_DEVICE = 38,
    VK_OP_DOMAIN_DETACH_DEVICE = 39,
    VK_OP_LIST_NETWORKS = 40,
    VK_OP_NUM_OF_NETWORKS = 41,
    VK_OP_LIST_DEFINED_NETWORKS = 42,
    VK_OP_NUM_OF_DEFINED_NETWORKS = 43,
    VK_OP_NETWORK_LOOKUP_BY_UUID = 44,
    VK_OP_NETWORK_LOOKUP_BY_NAME = 45,
    VK_OP_NETWORK_CREATE_XML = 46,
    VK_OP_NETWORK_DEFINE_XML = 47,
    VK_OP_NETWORK_UNDEFINE = 48,
    VK_OP_NETWORK_CREATE = 49,
    VK_OP_NETWORK_DESTROY = 50,
    VK_OP_NETWORK_GET_XML_DESC = 51,
    VK_OP_NETWORK_GET_BRIDGE_NAME = 52,
    VK_OP_NETWORK_GET_AUTOSTART = 53,
    VK_OP_NETWORK_SET_AUTOSTART = 54,
    /* ABI 1.1 */
    VK_OP_DOMAIN_IS_PERSISTENT = 55,
    VK_OP_DOMAIN_HAS_MANAGED_SAVE_IMAGE = 56,
    VK_OP_NODE_GET_SECURITY_MODEL = 57,
    VK_OP_DOMAIN_GET_SECURITY_LABEL = 58,
    VK_OP_DOMAIN_GET_STATE = 59,
    VK_OP_DOMAIN_XML_FROM_NATIVE = 60,
    VK_OP_DOMAIN_XML_TO_NATIVE = 61,
    VK_OP_NETWORK_IS_ACTIVE = 62,
    VK_OP_NETWORK_IS_PERSISTENT = 63,
    /* ABI 1.2 */
    VK_OP_DOMAIN_SET_MEMORY_FLAGS = 64,
    /* ABI 1.3 */
    VK_OP_DOMAIN_GET_MESSAGES = 65,
    /** Number of slots in this version of the ABI (not an operation). */
    VK_OP_COUNT = 66
} vk_op;

/* ---------------------------------------------------------------------------------------- */
/* Capability bits                                                                          */
/* ---------------------------------------------------------------------------------------- */

/** Index into header.caps of the word holding the bit of operation `op`. */
#define VK_CAP_WORD(op) ((unsigned)(op) / 64u)
/** The bit of operation `op` within its word. */
#define VK_CAP_BIT(op) ((uint64_t)1 << ((unsigned)(op) % 64u))
/** The bit of operation `op` if it lives in word `word`, else 0. A constant expression, for
 *  static initialisers: `.caps = { MY_CAPS(0), MY_CAPS(1), MY_CAPS(2), MY_CAPS(3) }` with
 *  `#define MY_CAPS(w) (VK_CAP_IN_WORD(w, VK_OP_OPEN) | VK_CAP_IN_WORD(w, VK_OP_CLOSE) | ...)`. */
#define VK_CAP_IN_WORD(word, op) (VK_CAP_WORD(op) == (unsigned)(word) ? VK_CAP_BIT(op) : (uint64_t)0)
/** Sets the bit of operation `op` in `caps` (a uint64_t[VK_CAP_WORDS]). */
#define VK_CAP_SET(caps, op) ((caps)[VK_CAP_WORD(op)] |= VK_CAP_BIT(op))
/** Whether the bit of operation `op` is set in `caps`. */
#define VK_CAP_HAS(caps, op) \
    ((unsigned)(op) < VK_MAX_OPS && ((caps)[VK_CAP_WORD(op)] & VK_CAP_BIT(op)) != 0)

/* ---------------------------------------------------------------------------------------- */
/* Error codes and error domains                                                            */
/* ---------------------------------------------------------------------------------------- */

/** Error codes that cross the boundary: libvirt's virErrorNumber values, which never change. */
typedef enum vk_error_code {
    VK_ERR_INTERNAL_ERROR = 1,      /**< Internal error (also: a crash inside a driver). */
    VK_ERR_NO_MEMORY = 2,           /**< Out of memory. */
    VK_ERR_NO_SUPPORT = 3,          /**< The driver does not support the operation. */
    VK_ERR_NO_CONNECT = 5,          /**< Could not connect to the hypervisor or its back end. */
    VK_ERR_INVALID_CONN = 6,        /**< Invalid connection object. */
    VK_ERR_INVALID_DOMAIN = 7,      /**< Invalid domain object. */
    VK_ERR_INVALID_ARG = 8,         /**< Invalid argument. */
    VK_ERR_OPERATION_FAILED = 9,    /**< The operation failed. */
    VK_ERR_GET_FAILED = 10,         /**< A GET request to a daemon (xend) failed. */
    VK_ERR_POST_FAILED = 11,        /**< A POST request to a daemon (xend) failed. */
    VK_ERR_HTTP_ERROR = 12,         /**< A daemon (xend) answered with an unexpected HTTP status. */
    VK_ERR_OS_TYPE = 16,            /**< Unsupported OS type. */
    VK_ERR_NO_KERNEL = 17,          /**< Missing kernel information. */
    VK_ERR_NO_ROOT = 18,            /**< Missing root device. */
    VK_ERR_NO_SOURCE = 19,          /**< Missing source device. */
    VK_ERR_NO_TARGET = 20,          /**< Missing target device. */
    VK_ERR_NO_NAME = 21,            /**< Missing domain name. */
    VK_ERR_NO_OS = 22,              /**< Missing OS information. */
    VK_ERR_NO_DEVICE = 23,          /**< Missing device information. */
    VK_ERR_XML_ERROR = 27,          /**< Malformed or invalid XML. */
    VK_ERR_DOM_EXIST = 28,          /**< The domain already exists. */
    VK_ERR_OPERATION_DENIED = 29,   /**< Operation forbidden (read-only, missing privilege). */
    VK_ERR_OPEN_FAILED = 30,        /**< Failed to open a file. */
    VK_ERR_READ_FAILED = 31,        /**< Failed to read a file. */
    VK_ERR_PARSE_FAILED = 32,       /**< Failed to parse a file. */
    VK_ERR_CONF_SYNTAX = 33,        /**< Configuration syntax error. */
    VK_ERR_WRITE_FAILED = 34,       /**< Failed to write a file. */
    VK_ERR_INVALID_NETWORK = 36,    /**< Invalid network object. */
    VK_ERR_NETWORK_EXIST = 37,      /**< The network already exists. */
    VK_ERR_SYSTEM_ERROR = 38,       /**< A system call failed. */
    VK_ERR_NO_DOMAIN = 42,          /**< No domain with the given name, id or UUID. */
    VK_ERR_NO_NETWORK = 43,         /**< No network with the given name or UUID. */
    VK_ERR_INVALID_MAC = 44,        /**< Invalid MAC address. */
    VK_ERR_OPERATION_INVALID = 55,  /**< Not valid in the object's current state. */
    VK_ERR_CONFIG_UNSUPPORTED = 67  /**< An argument is not supported by the driver. */
} vk_error_code;

/** libvirt-style error domain numbers (virErrorDomain), for header.error_domain. */
#define VK_ERROR_DOMAIN_NONE 0u      /**< No particular domain (the core itself). */
#define VK_ERROR_DOMAIN_XEN 1u       /**< The Xen hypercall driver. */
#define VK_ERROR_DOMAIN_XEND 2u      /**< The xend driver. */
#define VK_ERROR_DOMAIN_XENSTORE 3u  /**< The xenstore driver. */
#define VK_ERROR_DOMAIN_SEXPR 4u     /**< The S-expression code. */
#define VK_ERROR_DOMAIN_XML 5u       /**< The XML model. */
#define VK_ERROR_DOMAIN_DOM 6u       /**< The domain layer. */
#define VK_ERROR_DOMAIN_CONF 9u      /**< The configuration file code. */
#define VK_ERROR_DOMAIN_QEMU 10u     /**< The QEMU driver. */
#define VK_ERROR_DOMAIN_NET 11u      /**< The network layer. */
#define VK_ERROR_DOMAIN_TEST 12u     /**< The test driver. */
#define VK_ERROR_DOMAIN_REMOTE 13u   /**< The remote driver. */
#define VK_ERROR_DOMAIN_OPENVZ 14u   /**< The OpenVZ driver. */
#define VK_ERROR_DOMAIN_XENXM 15u    /**< The XM config driver. */

/* ---------------------------------------------------------------------------------------- */
/* States                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/** Domain states, as libvirt's virDomainState (vk_domain_info.state). */
typedef enum vk_domain_state {
    VK_DOMAIN_NO_STATE = 0,  /**< No state. */
    VK_DOMAIN_RUNNING = 1,   /**< Running. */
    VK_DOMAIN_BLOCKED = 2,   /**< Blocked on a resource. */
    VK_DOMAIN_PAUSED = 3,    /**< Paused by the user. */
    VK_DOMAIN_SHUTDOWN = 4,  /**< Being shut down. */
    VK_DOMAIN_SHUTOFF = 5,   /**< Shut off. */
    VK_DOMAIN_CRASHED = 6    /**< Crashed. */
} vk_domain_state;

/** vCPU states, as libvirt's virVcpuState (vk_vcpu_info.state). */
typedef enum vk_vcpu_state {
    VK_VCPU_OFFLINE = 0,  /**< Offline. */
    VK_VCPU_RUNNING = 1,  /**< Running. */
    VK_VCPU_BLOCKED = 2   /**< Blocked. */
} vk_vcpu_state;

/* ---------------------------------------------------------------------------------------- */
/* Plain data                                                                               */
/* ---------------------------------------------------------------------------------------- */

/** A borrowed UTF-8 string: pointer and length in bytes, no terminator required. `ptr` may be
 *  NULL only when `len` is 0. */
typedef struct vk_str {
    const uint8_t *ptr;
    size_t len;
} vk_str;

/** Initialiser for a vk_str naming a string literal: `vk_str s = VK_STR_INIT("toy");`. */
#define VK_STR_INIT(literal) { (const uint8_t *)(literal), sizeof(literal) - 1 }

/** Opaque connection handle owned by the driver. */
typedef void *vk_conn;

/** Domain information, as libvirt's virDomainInfo. */
typedef struct vk_domain_info {
    uint32_t state;        /**< A vk_domain_state value. */
    uint32_t nr_virt_cpu;  /**< Number of virtual CPUs. */
    uint64_t max_mem_kib;  /**< Maximum memory in KiB. */
    uint64_t memory_kib;   /**< Current memory in KiB. */
    uint64_t cpu_time_ns;  /**< CPU time used, in nanoseconds. */
} vk_domain_info;

/** Node information, as libvirt's virNodeInfo. */
typedef struct vk_node_info {
    uint8_t model[32];    /**< CPU model, NUL-padded UTF-8. */
    uint64_t memory_kib;  /**< Memory size in KiB. */
    uint32_t cpus;        /**< Number of active CPUs. */
    uint32_t mhz;         /**< Expected CPU frequency in MHz. */
    uint32_t nodes;       /**< Number of NUMA cells. */
    uint32_t sockets;     /**< Number of CPU sockets per cell. */
    uint32_t cores;       /**< Number of cores per socket. */
    uint32_t threads;     /**< Number of threads per core. */
} vk_node_info;

/** Per-vCPU information, as libvirt's virVcpuInfo. */
typedef struct vk_vcpu_info {
    uint32_t number;       /**< Virtual CPU number. */
    int32_t state;         /**< A vk_vcpu_state value. */
    uint64_t cpu_time_ns;  /**< CPU time used, in nanoseconds. */
    int32_t cpu;           /**< Host CPU the vCPU runs on, or -1. */
    uint32_t reserved;     /**< Always 0. */
} vk_vcpu_info;

/** A domain as the core names it when it calls a driver entry. */
typedef struct vk_domain_ref {
    int32_t id;        /**< The id the core last saw (-1 when inactive); informational only,
                            drivers should key on `uuid`. */
    uint8_t uuid[16];  /**< The domain's UUID. */
    vk_str name;       /**< The domain's name. */
} vk_domain_ref;

/** A network as the core names it when it calls a driver entry. */
typedef struct vk_network_ref {
    uint8_t uuid[16];  /**< The network's UUID. */
    vk_str name;       /**< The network's name. */
} vk_network_ref;

/** A per-operation rank override for drivers in a stack (see header.op_ranks). */
typedef struct vk_op_rank {
    uint32_t op;    /**< The operation index (vk_op). */
    uint32_t rank;  /**< This driver's rank for that operation; lower ranks are tried first. */
} vk_op_rank;

/* ---------------------------------------------------------------------------------------- */
/* Sinks: host-provided receivers for results. `ctx` is the host's; pass it back unchanged.  */
/* The callbacks are never NULL. Everything a driver hands to a sink only needs to live     */
/* until the callback returns: the host copies it.                                          */
/* ---------------------------------------------------------------------------------------- */

/** Receives strings. For a single-string result the driver pushes the text, possibly in
 *  several pieces that the host concatenates; for a list it pushes one item per call. */
typedef struct vk_str_sink {
    void *ctx;
    void (*push)(void *ctx, vk_str s);
} vk_str_sink;

/** Receives integers (domain ids), one per call. */
typedef struct vk_int_sink {
    void *ctx;
    void (*push)(void *ctx, int64_t value);
} vk_int_sink;

/** Receives a domain identity (the result of a lookup, create or define): its id (-1 when
 *  inactive), its 16-byte UUID and its name. */
typedef struct vk_domain_sink {
    void *ctx;
    void (*put)(void *ctx, int32_t id, const uint8_t uuid[16], vk_str name);
} vk_domain_sink;

/** Receives a network identity: its 16-byte UUID and its name. */
typedef struct vk_network_sink {
    void *ctx;
    void (*put)(void *ctx, const uint8_t uuid[16], vk_str name);
} vk_network_sink;

/** Receives one vCPU per call and its affinity map (one bit per host CPU, `cpumap_len`
 *  bytes). */
typedef struct vk_vcpu_sink {
    void *ctx;
    void (*push)(void *ctx, const vk_vcpu_info *info, const uint8_t *cpumap, size_t cpumap_len);
} vk_vcpu_sink;

/** Receives the error of a failing entry: a vk_error_code and a message. Call it once; if it
 *  is called again, the last call wins. The entry then returns the same code. */
typedef struct vk_error_sink {
    void *ctx;
    void (*set)(void *ctx, int32_t code, vk_str message);
} vk_error_sink;

/* ---------------------------------------------------------------------------------------- */
/* The header                                                                               */
/* ---------------------------------------------------------------------------------------- */

struct vk_host_services;
/** The type of header.host_init (ABI 1.2): receives the host services table. */
typedef void (*vk_host_init_fn)(const struct vk_host_services *host);

/** The fixed header at the start of every driver table. Frozen for ABI major 1. */
typedef struct vk_driver_header {
    uint32_t magic;               /**< VK_MAGIC. */
    uint16_t abi_major;           /**< VK_ABI_MAJOR as the plugin was built. */
    uint16_t abi_minor;           /**< VK_ABI_MINOR as the plugin was built. */
    uint32_t struct_size;         /**< sizeof(vk_driver_table) as the plugin was built. */
    uint32_t flags;               /**< VK_DRIVER_* flags. */
    vk_str name;                  /**< Driver name, e.g. "test", "qemu", "xen-xend". */
    vk_str version;               /**< Driver version, a semantic version such as "1.2.0". */
    const vk_str *schemes;        /**< URI schemes the driver serves, e.g. "test". */
    size_t n_schemes;             /**< Number of entries in `schemes`. */
    uint32_t error_domain;        /**< VK_ERROR_DOMAIN_* reported with this driver's errors. */
    uint32_t stack_rank;          /**< Default rank within a stack serving the same scheme;
                                       lower ranks are tried first. */
    const vk_op_rank *op_ranks;   /**< Per-operation rank overrides (NULL when n_op_ranks
                                       is 0). */
    size_t n_op_ranks;            /**< Number of entries in `op_ranks`. */
    vk_str sandbox_uri;           /**< A URI at which the conformance suite can open a
                                       disposable instance; "{tmpdir}" in it is replaced by a
                                       fresh empty directory. Empty: the suite cannot sandbox
                                       the driver and skips its mutating checks. */
    uint64_t caps[VK_CAP_WORDS];  /**< Bit i of word i / 64 is set exactly when slot i is
                                       non-NULL (see VK_CAP_SET). */
#if VK_TARGET_ABI_MINOR >= 2
    vk_host_init_fn host_init;    /**< Since 1.2 (was reserved word 0): called once by the
                                       core, after it validated the table and before the first
                                       open, with the host services (<virtkit/host.h>), valid
                                       for the life of the process. May be NULL. A core older
                                       than 1.2 never calls it. */
    uint64_t reserved[3];         /**< Reserved for later header fields; must be zero. */
#else
    uint64_t reserved[4];         /**< Reserved for later header fields; must be zero. */
#endif
} vk_driver_header;

/* ---------------------------------------------------------------------------------------- */
/* Entry signatures                                                                         */
/* ---------------------------------------------------------------------------------------- */

/* Every slot has a type named vk_<slot>_fn. `err` is never NULL; the `out` pointers are never
 * NULL. Unless stated otherwise an entry returns VK_OK or, after calling err->set, the error
 * code it set. */

/** Shared by domain actions that take no argument but the domain. */
typedef int32_t (*vk_domain_action_fn)(vk_conn conn, const vk_domain_ref *dom,
                                       const vk_error_sink *err);
/** Shared by network actions that take no argument but the network. */
typedef int32_t (*vk_network_action_fn)(vk_conn conn, const vk_network_ref *net,
                                        const vk_error_sink *err);
/** Shared by entries returning one string for the connection. */
typedef int32_t (*vk_conn_str_fn)(vk_conn conn, const vk_str_sink *out, const vk_error_sink *err);
/** Shared by entries returning one integer count for the connection. */
typedef int32_t (*vk_conn_count_fn)(vk_conn conn, int32_t *out, const vk_error_sink *err);

/** Opens a connection for `uri` and stores the driver's handle in *conn_out. Returns VK_OK,
 *  VK_DECLINED (the driver does not serve the URI; no error set) or an error code. `flags`:
 *  VK_OPEN_*. */
typedef int32_t (*vk_open_fn)(vk_str uri, uint32_t flags, vk_conn *conn_out,
                              const vk_error_sink *err);
/** Releases the connection. Returns VK_OK, or a non-zero code (nothing to report it to). */
typedef int32_t (*vk_close_fn)(vk_conn conn);
/** Pushes the hypervisor type, e.g. "QEMU". */
typedef vk_conn_str_fn vk_get_type_fn;
/** Stores the hypervisor version as libvirt encodes it: major * 1000000 + minor * 1000 +
 *  release. */
typedef int32_t (*vk_get_version_fn)(vk_conn conn, uint64_t *out, const vk_error_sink *err);
/** Pushes the host name. */
typedef vk_conn_str_fn vk_get_hostname_fn;
/** Pushes the capabilities XML. */
typedef vk_conn_str_fn vk_get_capabilities_fn;
/** Fills *out with the node information. */
typedef int32_t (*vk_node_get_info_fn)(vk_conn conn, vk_node_info *out, const vk_error_sink *err);
/** Stores the maximum number of vCPUs of a guest of `domain_type` (may be empty). */
typedef int32_t (*vk_get_max_vcpus_fn)(vk_conn conn, vk_str domain_type, int32_t *out,
                                       const vk_error_sink *err);
/** Pushes the id of every active domain, one per call. */
typedef int32_t (*vk_list_domains_fn)(vk_conn conn, const vk_int_sink *out,
                                      const vk_error_sink *err);
/** Stores the number of active domains. */
typedef vk_conn_count_fn vk_num_of_domains_fn;
/** Pushes the name of every inactive (defined, not running) domain, one per call. */
typedef vk_conn_str_fn vk_list_defined_domains_fn;
/** Stores the number of inactive domains. */
typedef vk_conn_count_fn vk_num_of_defined_domains_fn;
/** Puts the active domain with id `id`, or fails with VK_ERR_NO_DOMAIN. */
typedef int32_t (*vk_domain_lookup_by_id_fn)(vk_conn conn, int32_t id, const vk_domain_sink *out,
                                             const vk_error_sink *err);
/** Puts the domain with this 16-byte UUID, or fails with VK_ERR_NO_DOMAIN. */
typedef int32_t (*vk_domain_lookup_by_uuid_fn)(vk_conn conn, const uint8_t uuid[16],
                                               const vk_domain_sink *out,
                                               const vk_error_sink *err);
/** Puts the domain named `name`, or fails with VK_ERR_NO_DOMAIN. */
typedef int32_t (*vk_domain_lookup_by_name_fn)(vk_conn conn, vk_str name,
                                               const vk_domain_sink *out,
                                               const vk_error_sink *err);
/** Creates and starts a transient domain from XML and puts it (running, transient: it
 *  disappears when it stops). VK_ERR_DOM_EXIST when a domain of that name or UUID is active. */
typedef int32_t (*vk_domain_create_xml_fn)(vk_conn conn, vk_str xml, uint32_t flags,
                                           const vk_domain_sink *out, const vk_error_sink *err);
/** Defines a persistent domain from XML and puts it: a new name, or the same name and UUID to
 *  redefine (VK_ERR_DOM_EXIST when the name or the UUID belongs to another domain). A new
 *  domain is shut off, id -1. */
typedef int32_t (*vk_domain_define_xml_fn)(vk_conn conn, vk_str xml, const vk_domain_sink *out,
                                           const vk_error_sink *err);
/** Removes the domain's persistent definition: an inactive domain disappears; an active one
 *  keeps running as a transient domain and disappears when it stops (libvirt's rule). */
typedef vk_domain_action_fn vk_domain_undefine_fn;
/** Starts a shut-off domain (running, a new id > 0); VK_ERR_OPERATION_INVALID when active. */
typedef vk_domain_action_fn vk_domain_create_fn;
/** Asks an active domain to shut down (a request to the guest); VK_ERR_OPERATION_INVALID when
 *  inactive. */
typedef vk_domain_action_fn vk_domain_shutdown_fn;
/** Reboots an active domain. */
typedef int32_t (*vk_domain_reboot_fn)(vk_conn conn, const vk_domain_ref *dom, uint32_t flags,
                                       const vk_error_sink *err);
/** Stops an active domain immediately (shut off; a transient domain disappears);
 *  VK_ERR_OPERATION_INVALID when inactive. */
typedef vk_domain_action_fn vk_domain_destroy_fn;
/** Pauses a running domain; VK_ERR_OPERATION_INVALID when it is not running. */
typedef vk_domain_action_fn vk_domain_suspend_fn;
/** Resumes a paused domain; VK_ERR_OPERATION_INVALID when it is not paused. */
typedef vk_domain_action_fn vk_domain_resume_fn;
/** Saves an active domain's state to `path` and stops it (shut off);
 *  VK_ERR_OPERATION_INVALID when inactive. */
typedef int32_t (*vk_domain_save_fn)(vk_conn conn, const vk_domain_ref *dom, vk_str path,
                                     const vk_error_sink *err);
/** Restores a domain saved at `path`: it runs again. */
typedef int32_t (*vk_domain_restore_fn)(vk_conn conn, vk_str path, const vk_error_sink *err);
/** Dumps an active domain's memory to `path`; the domain stays active.
 *  VK_ERR_OPERATION_INVALID when inactive. */
typedef int32_t (*vk_domain_core_dump_fn)(vk_conn conn, const vk_domain_ref *dom, vk_str path,
                                          uint32_t flags, const vk_error_sink *err);
/** Fills *out with the domain's information. */
typedef int32_t (*vk_domain_get_info_fn)(vk_conn conn, const vk_domain_ref *dom,
                                         vk_domain_info *out, const vk_error_sink *err);
/** Pushes the domain's XML description. */
typedef int32_t (*vk_domain_get_xml_desc_fn)(vk_conn conn, const vk_domain_ref *dom,
                                             uint32_t flags, const vk_str_sink *out,
                                             const vk_error_sink *err);
/** Pushes the domain's OS type, e.g. "hvm". */
typedef int32_t (*vk_domain_get_os_type_fn)(vk_conn conn, const vk_domain_ref *dom,
                                            const vk_str_sink *out, const vk_error_sink *err);
/** Stores the domain's maximum memory in KiB. */
typedef int32_t (*vk_domain_get_max_memory_fn)(vk_conn conn, const vk_domain_ref *dom,
                                               uint64_t *out, const vk_error_sink *err);
/** Sets the domain's maximum memory in KiB. */
typedef int32_t (*vk_domain_set_max_memory_fn)(vk_conn conn, const vk_domain_ref *dom,
                                               uint64_t kib, const vk_error_sink *err);
/** Sets the domain's current memory in KiB. */
typedef int32_t (*vk_domain_set_memory_fn)(vk_conn conn, const vk_domain_ref *dom, uint64_t kib,
                                           const vk_error_sink *err);
/** Sets the domain's number of vCPUs. */
typedef int32_t (*vk_domain_set_vcpus_fn)(vk_conn conn, const vk_domain_ref *dom, uint32_t nvcpus,
                                          const vk_error_sink *err);
/** Pins vCPU `vcpu` to the host CPUs in `cpumap` (one bit per host CPU, `cpumap_len` bytes). */
typedef int32_t (*vk_domain_pin_vcpu_fn)(vk_conn conn, const vk_domain_ref *dom, uint32_t vcpu,
                                         const uint8_t *cpumap, size_t cpumap_len,
                                         const vk_error_sink *err);
/** Pushes every vCPU of an active domain, one per call. */
typedef int32_t (*vk_domain_get_vcpus_fn)(vk_conn conn, const vk_domain_ref *dom,
                                          const vk_vcpu_sink *out, const vk_error_sink *err);
/** Stores 1 when the domain starts with the host, else 0. */
typedef int32_t (*vk_domain_get_autostart_fn)(vk_conn conn, const vk_domain_ref *dom,
                                              int32_t *out, const vk_error_sink *err);
/** Sets whether the domain starts with the host (0 or 1). */
typedef int32_t (*vk_domain_set_autostart_fn)(vk_conn conn, const vk_domain_ref *dom,
                                              int32_t autostart, const vk_error_sink *err);
/** Attaches the device described by `xml`. */
typedef int32_t (*vk_domain_attach_device_fn)(vk_conn conn, const vk_domain_ref *dom, vk_str xml,
                                              const vk_error_sink *err);
/** Detaches the device described by `xml`. */
typedef int32_t (*vk_domain_detach_device_fn)(vk_conn conn, const vk_domain_ref *dom, vk_str xml,
                                              const vk_error_sink *err);
/** Pushes the name of every active network, one per call. */
typedef vk_conn_str_fn vk_list_networks_fn;
/** Stores the number of active networks. */
typedef vk_conn_count_fn vk_num_of_networks_fn;
/** Pushes the name of every inactive network, one per call. */
typedef vk_conn_str_fn vk_list_defined_networks_fn;
/** Stores the number of inactive networks. */
typedef vk_conn_count_fn vk_num_of_defined_networks_fn;
/** Puts the network with this 16-byte UUID, or fails with VK_ERR_NO_NETWORK. */
typedef int32_t (*vk_network_lookup_by_uuid_fn)(vk_conn conn, const uint8_t uuid[16],
                                                const vk_network_sink *out,
                                                const vk_error_sink *err);
/** Puts the network named `name`, or fails with VK_ERR_NO_NETWORK. */
typedef int32_t (*vk_network_lookup_by_name_fn)(vk_conn conn, vk_str name,
                                                const vk_network_sink *out,
                                                const vk_error_sink *err);
/** Creates and starts a transient network from XML and puts it (it disappears when it stops). */
typedef int32_t (*vk_network_create_xml_fn)(vk_conn conn, vk_str xml, const vk_network_sink *out,
                                            const vk_error_sink *err);
/** Defines a persistent network from XML and puts it (inactive when new; VK_ERR_NETWORK_EXIST
 *  for a name or UUID of another network). */
typedef int32_t (*vk_network_define_xml_fn)(vk_conn conn, vk_str xml, const vk_network_sink *out,
                                            const vk_error_sink *err);
/** Removes the network's persistent definition: an inactive network disappears; an active
 *  one keeps running as a transient network and disappears when it stops. */
typedef vk_network_action_fn vk_network_undefine_fn;
/** Starts an inactive network; VK_ERR_OPERATION_INVALID when active. */
typedef vk_network_action_fn vk_network_create_fn;
/** Stops an active network (a transient one disappears); VK_ERR_OPERATION_INVALID when
 *  inactive. */
typedef vk_network_action_fn vk_network_destroy_fn;
/** Pushes the network's XML description. */
typedef int32_t (*vk_network_get_xml_desc_fn)(vk_conn conn, const vk_network_ref *net,
                                              uint32_t flags, const vk_str_sink *out,
                                              const vk_error_sink *err);
/** Pushes the name of the network's bridge device. */
typedef int32_t (*vk_network_get_bridge_name_fn)(vk_conn conn, const vk_network_ref *net,
                                                 const vk_str_sink *out,
                                                 const vk_error_sink *err);
/** Stores 1 when the network starts with the host, else 0. */
typedef int32_t (*vk_network_get_autostart_fn)(vk_conn conn, const vk_network_ref *net,
                                               int32_t *out, const vk_error_sink *err);
/** Sets whether the network starts with the host (0 or 1). */
typedef int32_t (*vk_network_set_autostart_fn)(vk_conn conn, const vk_network_ref *net,
                                               int32_t autostart, const vk_error_sink *err);
/* ABI 1.1 */
/** Stores 1 when the domain is persistent (has a definition that survives it stopping), 0 when
 *  it is transient. */
typedef int32_t (*vk_domain_is_persistent_fn)(vk_conn conn, const vk_domain_ref *dom,
                                              int32_t *out, const vk_error_sink *err);
/** Stores 1 when the domain has a managed save image, else 0. */
typedef int32_t (*vk_domain_has_managed_save_image_fn)(vk_conn conn, const vk_domain_ref *dom,
                                                       uint32_t flags, int32_t *out,
                                                       const vk_error_sink *err);
/** Pushes exactly two strings: the host's security model, then its DOI. An empty model means
 *  no security driver is active. */
typedef int32_t (*vk_node_get_security_model_fn)(vk_conn conn, const vk_str_sink *out,
                                                 const vk_error_sink *err);
/** Pushes the domain's security label and stores 1 in *enforcing when the label is enforced,
 *  else 0. */
typedef int32_t (*vk_domain_get_security_label_fn)(vk_conn conn, const vk_domain_ref *dom,
                                                   const vk_str_sink *out, int32_t *enforcing,
                                                   const vk_error_sink *err);
/** Stores the domain's state (a vk_domain_state) in *state and libvirt's reason code for that
 *  state (virDomain<State>Reason; 0 when unknown) in *reason. */
typedef int32_t (*vk_domain_get_state_fn)(vk_conn conn, const vk_domain_ref *dom, int32_t *state,
                                          int32_t *reason, const vk_error_sink *err);
/** Pushes the domain XML equivalent to `config`, a configuration in the native format
 *  `format` (e.g. "xen-xm"). */
typedef int32_t (*vk_domain_xml_from_native_fn)(vk_conn conn, vk_str format, vk_str config,
                                                uint32_t flags, const vk_str_sink *out,
                                                const vk_error_sink *err);
/** Pushes the configuration in the native format `format` equivalent to the domain XML `xml`. */
typedef int32_t (*vk_domain_xml_to_native_fn)(vk_conn conn, vk_str format, vk_str xml,
                                              uint32_t flags, const vk_str_sink *out,
                                              const vk_error_sink *err);
/** Writes 1 to *out when the network is active, else 0. */
typedef int32_t (*vk_network_is_active_fn)(vk_conn conn, const vk_network_ref *net, int32_t *out,
                                           const vk_error_sink *err);
/** Writes 1 to *out when the network has a persistent definition, else 0. */
typedef int32_t (*vk_network_is_persistent_fn)(vk_conn conn, const vk_network_ref *net,
                                               int32_t *out, const vk_error_sink *err);
/* ABI 1.2 */
/** Sets the memory (KiB) of the live guest, of its persistent definition or of both, as
 *  `flags` says (VK_DOMAIN_AFFECT_*); with VK_DOMAIN_MEM_MAXIMUM, the maximum memory. */
typedef int32_t (*vk_domain_set_memory_flags_fn)(vk_conn conn, const vk_domain_ref *dom,
                                                 uint64_t kib, uint32_t flags,
                                                 const vk_error_sink *err);
/* ABI 1.3 */
/** Pushes the domain's messages, one per call, as libvirt words them: first the taints
 *  ("tainted: ..."), then the deprecations ("deprecated configuration: ..."); `flags` selects
 *  them (VK_DOMAIN_MESSAGE_TAINTING, VK_DOMAIN_MESSAGE_DEPRECATION; 0: both). None: no push. */
typedef int32_t (*vk_domain_get_messages_fn)(vk_conn conn, const vk_domain_ref *dom,
                                             uint32_t flags, const vk_str_sink *out,
                                             const vk_error_sink *err);

/* ---------------------------------------------------------------------------------------- */
/* The table                                                                                */
/* ---------------------------------------------------------------------------------------- */

/** The driver table: the header followed by one nullable entry per operation, in vk_op order.
 *  Append-only; each comment names the libvirt API and the ABI version that added the slot. */
typedef struct vk_driver_table {
    vk_driver_header header;
    vk_open_fn open;                                      /* virConnectOpen, since 1.0 */
    vk_close_fn close;                                    /* virConnectClose, since 1.0 */
    vk_get_type_fn get_type;                              /* virConnectGetType, since 1.0 */
    vk_get_version_fn get_version;                        /* virConnectGetVersion, since 1.0 */
    vk_get_hostname_fn get_hostname;                      /* virConnectGetHostname, since 1.0 */
    vk_get_capabilities_fn get_capabilities;              /* virConnectGetCapabilities, since 1.0 */
    vk_node_get_info_fn node_get_info;                    /* virNodeGetInfo, since 1.0 */
    vk_get_max_vcpus_fn get_max_vcpus;                    /* virConnectGetMaxVcpus, since 1.0 */
    vk_list_domains_fn list_domains;                      /* virConnectListDomains, since 1.0 */
    vk_num_of_domains_fn num_of_domains;                  /* virConnectNumOfDomains, since 1.0 */
    vk_list_defined_domains_fn list_defined_domains;      /* virConnectListDefinedDomains, since 1.0 */
    vk_num_of_defined_domains_fn num_of_defined_domains;  /* virConnectNumOfDefinedDomains, since 1.0 */
    vk_domain_lookup_by_id_fn domain_lookup_by_id;        /* virDomainLookupByID, since 1.0 */
    vk_domain_lookup_by_uuid_fn domain_lookup_by_uuid;    /* virDomainLookupByUUID, since 1.0 */
    vk_domain_lookup_by_name_fn domain_lookup_by_name;    /* virDomainLookupByName, since 1.0 */
    vk_domain_create_xml_fn domain_create_xml;            /* virDomainCreateXML, since 1.0 */
    vk_domain_define_xml_fn domain_define_xml;            /* virDomainDefineXML, since 1.0 */
    vk_domain_undefine_fn domain_undefine;                /* virDomainUndefine, since 1.0 */
    vk_domain_create_fn domain_create;                    /* virDomainCreate, since 1.0 */
    vk_domain_shutdown_fn domain_shutdown;                /* virDomainShutdown, since 1.0 */
    vk_domain_reboot_fn domain_reboot;                    /* virDomainReboot, since 1.0 */
    vk_domain_destroy_fn domain_destroy;                  /* virDomainDestroy, since 1.0 */
    vk_domain_suspend_fn domain_suspend;                  /* virDomainSuspend, since 1.0 */
    vk_domain_resume_fn domain_resume;                    /* virDomainResume, since 1.0 */
    vk_domain_save_fn domain_save;                        /* virDomainSave, since 1.0 */
    vk_domain_restore_fn domain_restore;                  /* virDomainRestore, since 1.0 */
    vk_domain_core_dump_fn domain_core_dump;              /* virDomainCoreDump, since 1.0 */
    vk_domain_get_info_fn domain_get_info;                /* virDomainGetInfo, since 1.0 */
    vk_domain_get_xml_desc_fn domain_get_xml_desc;        /* virDomainGetXMLDesc, since 1.0 */
    vk_domain_get_os_type_fn domain_get_os_type;          /* virDomainGetOSType, since 1.0 */
    vk_domain_get_max_memory_fn domain_get_max_memory;    /* virDomainGetMaxMemory, since 1.0 */
    vk_domain_set_max_memory_fn domain_set_max_memory;    /* virDomainSetMaxMemory, since 1.0 */
    vk_domain_set_memory_fn domain_set_memory;            /* virDomainSetMemory, since 1.0 */
    vk_domain_set_vcpus_fn domain_set_vcpus;              /* virDomainSetVcpus, since 1.0 */
    vk_domain_pin_vcpu_fn domain_pin_vcpu;                /* virDomainPinVcpu, since 1.0 */
    vk_domain_get_vcpus_fn domain_get_vcpus;              /* virDomainGetVcpus, since 1.0 */
    vk_domain_get_autostart_fn domain_get_autostart;      /* virDomainGetAutostart, since 1.0 */
    vk_domain_set_autostart_fn domain_set_autostart;      /* virDomainSetAutostart, since 1.0 */
    vk_domain_attach_device_fn domain_attach_device;      /* virDomainAttachDevice, since 1.0 */
    vk_domain_detach_device_fn domain_detach_device;      /* virDomainDetachDevice, since 1.0 */
    vk_list_networks_fn list_networks;                    /* virConnectListNetworks, since 1.0 */
    vk_num_of_networks_fn num_of_networks;                /* virConnectNumOfNetworks, since 1.0 */
    vk_list_defined_networks_fn list_defined_networks;    /* virConnectListDefinedNetworks, since 1.0 */
    vk_num_of_defined_networks_fn num_of_defined_networks; /* virConnectNumOfDefinedNetworks, since 1.0 */
    vk_network_lookup_by_uuid_fn network_lookup_by_uuid;  /* virNetworkLookupByUUID, since 1.0 */
    vk_network_lookup_by_name_fn network_lookup_by_name;  /* virNetworkLookupByName, since 1.0 */
    vk_network_create_xml_fn network_create_xml;          /* virNetworkCreateXML, since 1.0 */
    vk_network_define_xml_fn network_define_xml;          /* virNetworkDefineXML, since 1.0 */
    vk_network_undefine_fn network_undefine;              /* virNetworkUndefine, since 1.0 */
    vk_network_create_fn network_create;                  /* virNetworkCreate, since 1.0 */
    vk_network_destroy_fn network_destroy;                /* virNetworkDestroy, since 1.0 */
    vk_network_get_xml_desc_fn network_get_xml_desc;      /* virNetworkGetXMLDesc, since 1.0 */
    vk_network_get_bridge_name_fn network_get_bridge_name; /* virNetworkGetBridgeName, since 1.0 */
    vk_network_get_autostart_fn network_get_autostart;    /* virNetworkGetAutostart, since 1.0 */
    vk_network_set_autostart_fn network_set_autostart;    /* virNetworkSetAutostart, since 1.0 */
#if VK_TARGET_ABI_MINOR >= 1
    vk_domain_is_persistent_fn domain_is_persistent;      /* virDomainIsPersistent, since 1.1 */
    vk_domain_has_managed_save_image_fn domain_has_managed_save_image;
                                                          /* virDomainHasManagedSaveImage, since 1.1 */
    vk_node_get_security_model_fn node_get_security_model; /* virNodeGetSecurityModel, since 1.1 */
    vk_domain_get_security_label_fn domain_get_security_label;
                                                          /* virDomainGetSecurityLabel, since 1.1 */
    vk_domain_get_state_fn domain_get_state;              /* virDomainGetState, since 1.1 */
    vk_domain_xml_from_native_fn domain_xml_from_native;  /* virConnectDomainXMLFromNative, since 1.1 */
    vk_domain_xml_to_native_fn domain_xml_to_native;      /* virConnectDomainXMLToNative, since 1.1 */
    vk_network_is_active_fn network_is_active;            /* virNetworkIsActive, since 1.1 */
    vk_network_is_persistent_fn network_is_persistent;    /* virNetworkIsPersistent, since 1.1 */
#endif
#if VK_TARGET_ABI_MINOR >= 2
    vk_domain_set_memory_flags_fn domain_set_memory_flags; /* virDomainSetMemoryFlags, since 1.2 */
#endif
#if VK_TARGET_ABI_MINOR >= 3
    vk_domain_get_messages_fn domain_get_messages;        /* virDomainGetMessages, since 1.3 */
#endif
} vk_driver_table;

/** Size of the header; a table whose struct_size is smaller is malformed. */
#define VK_HEADER_SIZE sizeof(vk_driver_header)
/** Size of the table in this version of the ABI. */
#define VK_TABLE_SIZE sizeof(vk_driver_table)
/** Size of one slot. */
#define VK_SLOT_SIZE sizeof(vk_open_fn)

/* ---------------------------------------------------------------------------------------- */
/* The entry symbol                                                                         */
/* ---------------------------------------------------------------------------------------- */

/** The type of the exported entry symbol. */
typedef const vk_driver_table *(*vk_entry_fn)(void);

#if defined(__GNUC__) || defined(__clang__)
#define VK_EXPORT __attribute__((visibility("default")))
#else
#define VK_EXPORT
#endif

/** Every plugin defines this function and exports it with default visibility. It returns the
 *  plugin's table (usually a static const object), which must stay valid and unchanged for
 *  the life of the process; the core calls it right after loading the plugin. */
VK_EXPORT const vk_driver_table *virtkit_driver_entry(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* VIRTKIT_DRIVER_H */

#if VK_TARGET_ABI_MINOR >= 2
#include "host.h"
#endif
