//! The hand-written C header `include/virtkit/driver.h` describes exactly the Rust layout.
//!
//! The test generates a C program that includes the header and prints, for every struct, its
//! size and alignment and, for every field (every table slot included), its offset, its size and
//! whether its C type is compatible with the C spelling of the Rust type (C11 `_Generic`; this
//! catches a signedness or parameter-list mismatch that sizes alone cannot). The same check
//! covers every `vk_<slot>_fn` typedef, every type alias and the `virtkit_driver_entry`
//! prototype. It also prints every constant: magic, ABI version, flags, operation indices, error codes, states, error domains.
//! It compiles that program with the system C compiler (`$CC`, else `cc`), runs it, and compares
//! every number with the values compiled into `virtkit-abi`.
//!
//! Nothing can be forgotten silently: the slot list and each slot's Rust type come from the
//! compiled crate ([`virtkit_abi::OPS`], `VkDriverTable::slot_type_names`), and the test reads
//! `abi/src/lib.rs` to check that every `#[repr(C)]` struct, field, type alias, enum variant and
//! constant there is one this test compares. (The source is only read for that coverage and for
//! the Rust spelling of struct field types; every number compared comes from the compiled
//! crate.)
//!
//! Without a C compiler the test reports that it is skipped, and why (on the real stderr), and
//! fails instead when `CI` or `VIRTKIT_REQUIRE_CC` is set; a compiler named by `CC` that does not
//! run is a failure (`virtkit_test_support::CC`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use virtkit_test_support::{CC, CXX, require};

use virtkit_abi::{
    OP_COUNT, OPS, VIRTKIT_DRIVER_ENTRY, VK_ABI_MAJOR, VK_ABI_MINOR, VK_CAP_WORDS, VK_DECLINED,
    VK_DOMAIN_AFFECT_CONFIG, VK_DOMAIN_AFFECT_CURRENT, VK_DOMAIN_AFFECT_LIVE,
    VK_DOMAIN_MEM_MAXIMUM, VK_DOMAIN_MESSAGE_DEPRECATION, VK_DOMAIN_MESSAGE_TAINTING,
    VK_DOMAIN_START_PAUSED, VK_DOMAIN_XML_INACTIVE, VK_DOMAIN_XML_SECURE, VK_DRIVER_NEEDS_ROOT,
    VK_DRIVER_STACK_MEMBER, VK_DRIVER_THREAD_SAFE, VK_DUMP_CRASH, VK_HEADER_SIZE, VK_MAGIC,
    VK_MAX_OPS, VK_NETWORK_XML_INACTIVE, VK_OK, VK_OPEN_READ_ONLY, VK_SLOT_SIZE, VK_TABLE_SIZE,
    VkDomainInfo, VkDomainRef, VkDomainSink, VkDomainState, VkDriverHeader, VkDriverTable,
    VkErrorCode, VkErrorSink, VkIntSink, VkNetworkRef, VkNetworkSink, VkNodeInfo, VkOpRank, VkStr,
    VkStrSink, VkVcpuInfo, VkVcpuSink, VkVcpuState, error_domain,
};
use virtkit_abi::{
    VK_HOST_PARSE_NEW_DEFINITION, VK_HOST_XML_INACTIVE, VK_HOST_XML_SECURE, VkDiskView,
    VkDomainEdit, VkDomainView, VkHostServices, VkInterfaceView, VkNetworkIpView, VkNetworkView,
    VkUriParam, VkUriView,
};

// The C-facing part of the crate: lib.rs and the host services (host.rs, <virtkit/host.h>).
const ABI_LIB_SOURCE: &str = include_str!("../src/lib.rs");
const ABI_HOST_SOURCE: &str = include_str!("../src/host.rs");
const ABI_SOURCE_NAME: &str = "abi/src/lib.rs + abi/src/host.rs";
const THIS_FILE: &str = "abi/tests/c_header.rs";

// ------------------------------------------------------------------------------------------
// What Rust says
// ------------------------------------------------------------------------------------------

/// One field as the compiled crate lays it out.
struct FieldLayout {
    name: &'static str,
    offset: usize,
    size: usize,
}

/// One `#[repr(C)]` struct as the compiled crate lays it out.
struct StructLayout {
    rust: &'static str,
    size: usize,
    align: usize,
    fields: Vec<FieldLayout>,
}

fn field_size<T, F>(_field: impl for<'a> Fn(&'a T) -> &'a F) -> usize {
    size_of::<F>()
}

macro_rules! layout {
    ($rust:ident { $($field:ident),* $(,)? }) => {
        StructLayout {
            rust: stringify!($rust),
            size: size_of::<$rust>(),
            align: align_of::<$rust>(),
            fields: vec![$(
                FieldLayout {
                    name: stringify!($field),
                    offset: offset_of!($rust, $field),
                    size: field_size(|s: &$rust| &s.$field),
                },
            )*],
        }
    };
}

/// Every `#[repr(C)]` struct but the table, with every field in declaration order. The table
/// is built from `OPS` in [`table_layout`].
fn struct_layouts() -> Vec<StructLayout> {
    vec![
        layout!(VkStr { ptr, len }),
        layout!(VkStrSink { ctx, push }),
        layout!(VkIntSink { ctx, push }),
        layout!(VkDomainSink { ctx, put }),
        layout!(VkNetworkSink { ctx, put }),
        layout!(VkVcpuSink { ctx, push }),
        layout!(VkErrorSink { ctx, set }),
        layout!(VkDomainRef { id, uuid, name }),
        layout!(VkNetworkRef { uuid, name }),
        layout!(VkDomainInfo {
            state,
            nr_virt_cpu,
            max_mem_kib,
            memory_kib,
            cpu_time_ns
        }),
        layout!(VkNodeInfo {
            model,
            memory_kib,
            cpus,
            mhz,
            nodes,
            sockets,
            cores,
            threads
        }),
        layout!(VkVcpuInfo {
            number,
            state,
            cpu_time_ns,
            cpu,
            reserved
        }),
        layout!(VkOpRank { op, rank }),
        layout!(VkDriverHeader {
            magic,
            abi_major,
            abi_minor,
            struct_size,
            flags,
            name,
            version,
            schemes,
            n_schemes,
            error_domain,
            stack_rank,
            op_ranks,
            n_op_ranks,
            sandbox_uri,
            caps,
            host_init,
            reserved,
        }),
        // Host services (ABI 1.2).
        layout!(VkUriParam { name, value }),
        layout!(VkUriView {
            struct_size,
            port,
            scheme,
            transport,
            user,
            host,
            path,
            params,
            n_params
        }),
        layout!(VkDiskView {
            disk_type,
            device,
            driver_name,
            driver_type,
            source,
            target_dev,
            target_bus,
            readonly,
            shareable
        }),
        layout!(VkInterfaceView {
            if_type,
            source,
            mac,
            model,
            target_dev
        }),
        layout!(VkDomainView {
            struct_size,
            id,
            domain_type,
            name,
            uuid,
            memory_kib,
            current_memory_kib,
            vcpus,
            reserved,
            os_type,
            arch,
            kernel,
            initrd,
            cmdline,
            disks,
            n_disks,
            interfaces,
            n_interfaces,
            xml
        }),
        layout!(VkDomainEdit {
            struct_size,
            id,
            memory_kib,
            current_memory_kib,
            vcpus,
            reserved
        }),
        layout!(VkNetworkIpView {
            address,
            netmask,
            prefix,
            reserved,
            dhcp_start,
            dhcp_end
        }),
        layout!(VkNetworkView {
            struct_size,
            reserved,
            name,
            uuid,
            bridge,
            forward_mode,
            forward_dev,
            ips,
            n_ips,
            xml
        }),
        layout!(VkHostServices {
            struct_size,
            abi_major,
            abi_minor,
            report_error,
            parse_uri,
            parse_domain,
            format_domain,
            parse_network
        }),
    ]
}

/// The table: the header, then one slot per entry of `OPS`.
fn table_layout() -> StructLayout {
    let slot_size = size_of::<Option<unsafe extern "C" fn()>>();
    let mut fields = vec![FieldLayout {
        name: "header",
        offset: offset_of!(VkDriverTable, header),
        size: size_of::<VkDriverHeader>(),
    }];
    fields.extend(
        OPS.iter()
            .zip(VkDriverTable::SLOT_OFFSETS)
            .map(|(op, offset)| FieldLayout {
                name: op.field,
                offset,
                size: slot_size,
            }),
    );
    StructLayout {
        rust: "VkDriverTable",
        size: size_of::<VkDriverTable>(),
        align: align_of::<VkDriverTable>(),
        fields,
    }
}

/// A constant the header must define, with the value compiled into the crate.
enum Expected {
    Int(i128),
    Str(&'static str),
}

/// `(C name, value)` of every constant. `covered` collects the names of the crate's top-level
/// constants compared, for the coverage check.
fn expected_constants(covered: &mut BTreeSet<String>) -> Vec<(String, Expected)> {
    let mut out = Vec::new();
    // Packaging data (which core version a plugin of each ABI minor needs), not part of the C
    // contract: nothing in the header to compare.
    covered.insert("CORE_VERSION_FOR_MINOR".to_owned());
    let mut top = |name: &str, value: Expected| {
        covered.insert(name.to_owned());
        out.push((name.to_owned(), value));
    };
    let entry = std::str::from_utf8(VIRTKIT_DRIVER_ENTRY).unwrap();
    top(
        "VIRTKIT_DRIVER_ENTRY",
        Expected::Str(entry.strip_suffix('\0').unwrap()),
    );
    top("VK_MAGIC", Expected::Int(VK_MAGIC.into()));
    top("VK_ABI_MAJOR", Expected::Int(VK_ABI_MAJOR.into()));
    top("VK_ABI_MINOR", Expected::Int(VK_ABI_MINOR.into()));
    top("VK_CAP_WORDS", Expected::Int(VK_CAP_WORDS as i128));
    top("VK_MAX_OPS", Expected::Int(VK_MAX_OPS as i128));
    top(
        "VK_DRIVER_THREAD_SAFE",
        Expected::Int(VK_DRIVER_THREAD_SAFE.into()),
    );
    top(
        "VK_DRIVER_NEEDS_ROOT",
        Expected::Int(VK_DRIVER_NEEDS_ROOT.into()),
    );
    top(
        "VK_DRIVER_STACK_MEMBER",
        Expected::Int(VK_DRIVER_STACK_MEMBER.into()),
    );
    top("VK_OPEN_READ_ONLY", Expected::Int(VK_OPEN_READ_ONLY.into()));
    top("VK_DECLINED", Expected::Int(VK_DECLINED.into()));
    top("VK_OK", Expected::Int(VK_OK.into()));
    for (name, value) in [
        ("VK_DOMAIN_XML_SECURE", VK_DOMAIN_XML_SECURE),
        ("VK_DOMAIN_XML_INACTIVE", VK_DOMAIN_XML_INACTIVE),
        ("VK_DOMAIN_START_PAUSED", VK_DOMAIN_START_PAUSED),
        ("VK_DUMP_CRASH", VK_DUMP_CRASH),
        ("VK_NETWORK_XML_INACTIVE", VK_NETWORK_XML_INACTIVE),
        ("VK_DOMAIN_AFFECT_CURRENT", VK_DOMAIN_AFFECT_CURRENT),
        ("VK_DOMAIN_AFFECT_LIVE", VK_DOMAIN_AFFECT_LIVE),
        ("VK_DOMAIN_AFFECT_CONFIG", VK_DOMAIN_AFFECT_CONFIG),
        ("VK_DOMAIN_MEM_MAXIMUM", VK_DOMAIN_MEM_MAXIMUM),
        (
            "VK_DOMAIN_MESSAGE_DEPRECATION",
            VK_DOMAIN_MESSAGE_DEPRECATION,
        ),
        ("VK_DOMAIN_MESSAGE_TAINTING", VK_DOMAIN_MESSAGE_TAINTING),
    ] {
        top(name, Expected::Int(value.into()));
    }
    top("VK_HEADER_SIZE", Expected::Int(VK_HEADER_SIZE as i128));
    top("VK_TABLE_SIZE", Expected::Int(VK_TABLE_SIZE as i128));
    top("VK_SLOT_SIZE", Expected::Int(VK_SLOT_SIZE as i128));
    top(
        "VK_HOST_XML_SECURE",
        Expected::Int(VK_HOST_XML_SECURE.into()),
    );
    top(
        "VK_HOST_XML_INACTIVE",
        Expected::Int(VK_HOST_XML_INACTIVE.into()),
    );
    top(
        "VK_HOST_PARSE_NEW_DEFINITION",
        Expected::Int(VK_HOST_PARSE_NEW_DEFINITION.into()),
    );

    for op in OPS {
        out.push((
            format!("VK_OP_{}", op.field.to_uppercase()),
            Expected::Int(op.index as i128),
        ));
    }
    out.push(("VK_OP_COUNT".to_owned(), Expected::Int(OP_COUNT as i128)));

    for code in VkErrorCode::ALL {
        let name = format!("VK_ERR_{}", upper_snake(&format!("{code:?}")));
        out.push((name, Expected::Int((code as i32).into())));
    }
    for state in DOMAIN_STATES {
        let name = format!("VK_DOMAIN_{}", upper_snake(&format!("{state:?}")));
        out.push((name, Expected::Int((state as u32).into())));
    }
    for state in VCPU_STATES {
        let name = format!("VK_VCPU_{}", upper_snake(&format!("{state:?}")));
        out.push((name, Expected::Int((state as i32).into())));
    }
    for (name, value) in ERROR_DOMAINS {
        out.push((
            format!("VK_ERROR_DOMAIN_{name}"),
            Expected::Int((*value).into()),
        ));
    }
    out
}

const DOMAIN_STATES: [VkDomainState; 7] = [
    VkDomainState::NoState,
    VkDomainState::Running,
    VkDomainState::Blocked,
    VkDomainState::Paused,
    VkDomainState::Shutdown,
    VkDomainState::Shutoff,
    VkDomainState::Crashed,
];

const VCPU_STATES: [VkVcpuState; 3] = [
    VkVcpuState::Offline,
    VkVcpuState::Running,
    VkVcpuState::Blocked,
];

const ERROR_DOMAINS: &[(&str, u32)] = &[
    ("NONE", error_domain::NONE),
    ("XEN", error_domain::XEN),
    ("XEND", error_domain::XEND),
    ("XENSTORE", error_domain::XENSTORE),
    ("SEXPR", error_domain::SEXPR),
    ("XML", error_domain::XML),
    ("DOM", error_domain::DOM),
    ("CONF", error_domain::CONF),
    ("QEMU", error_domain::QEMU),
    ("NET", error_domain::NET),
    ("TEST", error_domain::TEST),
    ("REMOTE", error_domain::REMOTE),
    ("OPENVZ", error_domain::OPENVZ),
    ("XENXM", error_domain::XENXM),
];

// ------------------------------------------------------------------------------------------
// Names
// ------------------------------------------------------------------------------------------

/// `VkDomainRef` -> `vk_domain_ref`.
fn c_name(rust: &str) -> String {
    upper_snake(rust).to_lowercase()
}

/// `InternalError` -> `INTERNAL_ERROR`.
fn upper_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

// ------------------------------------------------------------------------------------------
// Reading the Rust source (with syn): coverage and type spelling only
// ------------------------------------------------------------------------------------------

/// The ABI crate's source, parsed.
fn abi_file() -> syn::File {
    // Each file parses on its own (each has its own inner doc comment); the items are read as
    // one crate.
    let parse = |name: &str, text: &str| {
        syn::parse_file(text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
    };
    let mut file = parse("abi/src/lib.rs", ABI_LIB_SOURCE);
    file.items
        .extend(parse("abi/src/host.rs", ABI_HOST_SOURCE).items);
    file
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

/// A type as Rust source text (for messages, and for [`rust_to_c`]).
fn spelled(ty: &syn::Type) -> String {
    quote::ToTokens::to_token_stream(ty).to_string()
}

/// Names of the public `Vk*` structs.
fn struct_names(code: &syn::File) -> BTreeSet<String> {
    code.items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Struct(s) if is_pub(&s.vis) && s.ident.to_string().starts_with("Vk") => {
                Some(s.ident.to_string())
            }
            _ => None,
        })
        .collect()
}

/// Names of the public top-level constants.
fn const_names(items: &[syn::Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Const(c) if is_pub(&c.vis) => Some(c.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// Names of the public constants of the inline module `name`.
fn module_const_names(code: &syn::File, name: &str) -> Vec<String> {
    code.items
        .iter()
        .find_map(|i| match i {
            syn::Item::Mod(m) if m.ident == name => m.content.as_ref().map(|(_, items)| items),
            _ => None,
        })
        .map(|items| const_names(items))
        .unwrap_or_else(|| panic!("no inline `mod {name}` in {ABI_SOURCE_NAME}"))
}

/// `(field, Rust type)` of a struct, in order.
fn struct_fields(code: &syn::File, rust: &str) -> Vec<(String, String)> {
    code.items
        .iter()
        .find_map(|i| match i {
            syn::Item::Struct(s) if s.ident == rust => Some(
                s.fields
                    .iter()
                    .map(|f| {
                        let name = f.ident.as_ref().expect("a named field").to_string();
                        (name, spelled(&f.ty))
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no `pub struct {rust}` in {ABI_SOURCE_NAME}"))
}

/// `(field, Rust type)` of every slot, in order. The types come from the compiled crate
/// (`core::any::type_name`), with the paths taken off.
fn slot_types() -> Vec<(String, String)> {
    OPS.iter()
        .zip(VkDriverTable::slot_type_names())
        .map(|(op, ty)| {
            let ty = ty
                .replace("virtkit_abi::", "")
                .replace("core::ffi::", "")
                .replace("core::option::", "");
            (op.field.to_owned(), ty)
        })
        .collect()
}

/// `(name, Rust type)` of every public type alias.
fn type_aliases(code: &syn::File) -> Vec<(String, String)> {
    code.items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Type(t) if is_pub(&t.vis) => Some((t.ident.to_string(), spelled(&t.ty))),
            _ => None,
        })
        .collect()
}

/// Variant names of a public enum.
fn enum_variants(code: &syn::File, rust: &str) -> Vec<String> {
    code.items
        .iter()
        .find_map(|i| match i {
            syn::Item::Enum(e) if e.ident == rust => {
                Some(e.variants.iter().map(|v| v.ident.to_string()).collect())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no `pub enum {rust}` in {ABI_SOURCE_NAME}"))
}

// ------------------------------------------------------------------------------------------
// Rust types spelled in C
// ------------------------------------------------------------------------------------------

/// A C type, enough to spell the ABI's types.
#[derive(Clone, Debug)]
enum CType {
    Named(String),
    Const(Box<CType>),
    Ptr(Box<CType>),
    Array(Box<CType>, String),
    Fn(Box<CType>, Vec<CType>),
}

/// The C type a Rust type of the ABI (as source text) must have in the header.
fn rust_to_c(ty: &str) -> CType {
    let parsed: syn::Type =
        syn::parse_str(ty).unwrap_or_else(|e| panic!("`{ty}` is not a Rust type: {e}"));
    ty_to_c(&parsed)
}

fn ty_to_c(ty: &syn::Type) -> CType {
    match ty {
        syn::Type::Paren(p) => ty_to_c(&p.elem),
        syn::Type::Group(g) => ty_to_c(&g.elem),
        syn::Type::FnPtr(f) => {
            let params = f.inputs.iter().map(|a| ty_to_c(&a.ty)).collect();
            let ret = match &f.output {
                syn::ReturnType::Type(_, t) => ty_to_c(t),
                syn::ReturnType::Default => CType::Named("void".to_owned()),
            };
            CType::Ptr(Box::new(CType::Fn(Box::new(ret), params)))
        }
        syn::Type::Ptr(p) => {
            // C passes an array as a pointer to its first element: same address, same ABI.
            let pointee = match ty_to_c(&p.elem) {
                CType::Array(elem, _) => *elem,
                other => other,
            };
            let pointee = match p.mutability {
                syn::PointerMutability::Const(_) => CType::Const(Box::new(pointee)),
                syn::PointerMutability::Mut(_) => pointee,
            };
            CType::Ptr(Box::new(pointee))
        }
        syn::Type::Array(a) => {
            let len = match &a.len {
                syn::Expr::Lit(l) => quote::ToTokens::to_token_stream(&l.lit).to_string(),
                syn::Expr::Path(p) => {
                    p.path
                        .get_ident()
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| {
                            panic!("{THIS_FILE}: array length {} is not a name", spelled(ty))
                        })
                }
                _ => panic!(
                    "{THIS_FILE}: no C spelling for the array length of {}",
                    spelled(ty)
                ),
            };
            CType::Array(Box::new(ty_to_c(&a.elem)), len)
        }
        syn::Type::Path(p) => {
            let last = p.path.segments.last().expect("a path has a segment");
            let name = last.ident.to_string();
            if name == "Option" {
                // Only nullable function pointers are wrapped in Option.
                let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                    panic!("{THIS_FILE}: Option without an argument in {}", spelled(ty));
                };
                return match args.args.first() {
                    Some(syn::GenericArgument::Type(inner)) => ty_to_c(inner),
                    _ => panic!("{THIS_FILE}: Option of no type in {}", spelled(ty)),
                };
            }
            let c = match name.as_str() {
                "u8" => "uint8_t",
                "u16" => "uint16_t",
                "u32" => "uint32_t",
                "u64" => "uint64_t",
                "i8" => "int8_t",
                "i16" => "int16_t",
                "i32" => "int32_t",
                "i64" => "int64_t",
                "usize" => "size_t",
                "c_void" => "void",
                t if t.starts_with("Vk") => return CType::Named(c_name(t)),
                other => {
                    panic!("{THIS_FILE}: no C spelling for the Rust type `{other}`; extend ty_to_c")
                }
            };
            CType::Named(c.to_owned())
        }
        other => panic!(
            "{THIS_FILE}: no C spelling for the Rust type `{}`; extend ty_to_c",
            spelled(other)
        ),
    }
}

/// Declares `declarator` with type `ty`, e.g. `int32_t (*f)(vk_str, uint32_t)`.
fn declare(ty: &CType, declarator: &str) -> String {
    match ty {
        CType::Named(n) if declarator.is_empty() => n.clone(),
        CType::Named(n) => format!("{n} {declarator}"),
        CType::Const(inner) => match &**inner {
            CType::Named(n) => format!("const {}", declare(&CType::Named(n.clone()), declarator)),
            other => panic!("{THIS_FILE}: cannot spell const {other:?}"),
        },
        CType::Ptr(inner) => match &**inner {
            CType::Fn(..) | CType::Array(..) => declare(inner, &format!("(*{declarator})")),
            _ => declare(inner, &format!("*{declarator}")),
        },
        CType::Array(elem, len) => declare(elem, &format!("{declarator}[{len}]")),
        CType::Fn(ret, params) => {
            let params = if params.is_empty() {
                "void".to_owned()
            } else {
                params
                    .iter()
                    .map(|p| declare(p, ""))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            declare(ret, &format!("{declarator}({params})"))
        }
    }
}

// ------------------------------------------------------------------------------------------
// The C program
// ------------------------------------------------------------------------------------------

/// A type the header must declare compatibly with a Rust type.
struct TypeCheck {
    /// Key in the program's output, e.g. `vk_node_info.model` or `vk_conn_str_fn`.
    key: String,
    /// A C expression of pointer-to-the-header's-type.
    pointer_expr: String,
    /// The Rust type, for messages.
    rust: String,
    /// The C type the Rust type corresponds to.
    expected: CType,
}

fn generate_program(
    structs: &[StructLayout],
    type_checks: &[TypeCheck],
    constants: &[(String, Expected)],
) -> String {
    let mut typedefs = String::new();
    let mut body = String::new();
    for s in structs {
        let c = c_name(s.rust);
        writeln!(body, "    printf(\"size {c} %zu\\n\", sizeof({c}));").unwrap();
        writeln!(
            body,
            "    printf(\"align {c} %zu\\n\", (size_t)_Alignof({c}));"
        )
        .unwrap();
        for f in &s.fields {
            let key = format!("{c}.{}", f.name);
            writeln!(
                body,
                "    printf(\"offset {key} %zu\\n\", offsetof({c}, {}));",
                f.name
            )
            .unwrap();
            writeln!(
                body,
                "    printf(\"fsize {key} %zu\\n\", sizeof(((const {c} *)0)->{}));",
                f.name
            )
            .unwrap();
        }
    }
    for (i, check) in type_checks.iter().enumerate() {
        writeln!(
            typedefs,
            "typedef {};",
            declare(&check.expected, &format!("vkchk_{i}"))
        )
        .unwrap();
        writeln!(
            body,
            "    printf(\"type {} %d\\n\", _Generic(({}), vkchk_{i} *: 1, default: 0));",
            check.key, check.pointer_expr
        )
        .unwrap();
    }
    for (name, value) in constants {
        match value {
            Expected::Int(_) => writeln!(
                body,
                "    printf(\"const {name} %lld\\n\", (long long)({name}));"
            )
            .unwrap(),
            Expected::Str(_) => {
                writeln!(body, "    printf(\"const {name} %s\\n\", {name});").unwrap()
            }
        }
    }
    format!(
        "/* Generated by {THIS_FILE}. */\n\
         #include <stddef.h>\n\
         #include <stdio.h>\n\
         #include <virtkit/driver.h>\n\n\
         {typedefs}\n\
         int main(void)\n{{\n{body}    return 0;\n}}\n"
    )
}

/// Runs `cmd`; `Err` carries a description of the failure with the tool's output.
fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {cmd:?}\n--- stdout\n{}--- stderr\n{}",
            out.status,
            first_lines(&String::from_utf8_lossy(&out.stdout)),
            first_lines(&String::from_utf8_lossy(&out.stderr))
        ));
    }
    Ok(String::from_utf8(out.stdout).expect("the program prints ASCII"))
}

/// The first lines of a tool's output: the first error names the problem; the rest repeats it.
fn first_lines(text: &str) -> String {
    const KEEP: usize = 30;
    let lines: Vec<&str> = text.lines().collect();
    let mut out: String = lines.iter().take(KEEP).map(|l| format!("{l}\n")).collect();
    if lines.len() > KEEP {
        writeln!(out, "... ({} more lines)", lines.len() - KEEP).unwrap();
    }
    out
}

/// A number as printed, with its hex spelling when that is easier to read (magic, flags).
fn hex(value: &str) -> String {
    match value.parse::<i128>() {
        Ok(v) if v > 255 => format!("{v} (0x{v:X})"),
        _ => value.to_owned(),
    }
}

/// A scratch directory under cargo's per-test temporary directory, removed on success.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("c_header-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("c_header: generated files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

// ------------------------------------------------------------------------------------------
// The tests
// ------------------------------------------------------------------------------------------

/// Every struct, field, alias, enum variant and constant of the Rust source is one this test
/// compares; the parsed slot list is `OPS`.
#[test]
fn layout_test_covers_the_whole_rust_abi() {
    let code = abi_file();
    let mut missing = Vec::new();

    let covered: BTreeMap<&str, Vec<&str>> = struct_layouts()
        .iter()
        .map(|s| (s.rust, s.fields.iter().map(|f| f.name).collect()))
        .collect();
    let in_source = struct_names(&code);
    for name in &in_source {
        let fields: Vec<String> = struct_fields(&code, name)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        match covered.get(name.as_str()) {
            Some(listed) if listed.iter().copied().eq(fields.iter().map(String::as_str)) => {}
            Some(listed) => missing.push(format!(
                "{name}: source fields {fields:?}, but {THIS_FILE} checks {listed:?}"
            )),
            None => missing.push(format!(
                "struct {name} is not in struct_layouts() in {THIS_FILE}"
            )),
        }
    }
    for name in covered.keys() {
        if !in_source.contains(*name) {
            missing.push(format!(
                "{THIS_FILE} checks {name}, which {ABI_SOURCE_NAME} lacks"
            ));
        }
    }

    let mut covered_consts = BTreeSet::new();
    expected_constants(&mut covered_consts);
    for name in const_names(&code.items) {
        if !covered_consts.contains(&name) {
            missing.push(format!(
                "constant {name} is not in expected_constants() in {THIS_FILE}"
            ));
        }
    }
    let checked_aliases: BTreeSet<String> =
        alias_checks(&code).into_iter().map(|c| c.rust).collect();
    for (alias, _) in type_aliases(&code) {
        if !checked_aliases.contains(&alias) {
            missing.push(format!("type alias {alias} is not checked by {THIS_FILE}"));
        }
    }

    let lists: [(&str, Vec<String>); 3] = [
        (
            "VkErrorCode",
            VkErrorCode::ALL.iter().map(|c| format!("{c:?}")).collect(),
        ),
        (
            "VkDomainState",
            DOMAIN_STATES.iter().map(|s| format!("{s:?}")).collect(),
        ),
        (
            "VkVcpuState",
            VCPU_STATES.iter().map(|s| format!("{s:?}")).collect(),
        ),
    ];
    for (rust, listed) in lists {
        let variants = enum_variants(&code, rust);
        if variants != listed {
            missing.push(format!(
                "{rust}: source variants {variants:?}, but the test checks {listed:?}"
            ));
        }
    }
    let domains = module_const_names(&code, "error_domain");
    let listed: Vec<String> = ERROR_DOMAINS.iter().map(|(n, _)| (*n).to_owned()).collect();
    if domains != listed {
        missing.push(format!(
            "error_domain: source has {domains:?}, but the test checks {listed:?}"
        ));
    }

    assert!(
        missing.is_empty(),
        "the C header test does not cover the whole Rust ABI:\n  {}",
        missing.join("\n  ")
    );
}

/// One check per `pub type` alias: the header's `vk_<alias>` has the aliased type.
fn alias_checks(code: &syn::File) -> Vec<TypeCheck> {
    type_aliases(code)
        .into_iter()
        .map(|(alias, ty)| {
            let c = c_name(&alias);
            TypeCheck {
                key: c.clone(),
                pointer_expr: format!("({c} *)0"),
                rust: alias,
                expected: rust_to_c(&ty),
            }
        })
        .collect()
}

#[test]
fn c_header_matches_rust_layout() {
    let cc = require!(CC);
    let code = abi_file();

    let mut structs = struct_layouts();
    structs.push(table_layout());
    let rust_fields: BTreeMap<String, Vec<(String, String)>> = struct_layouts()
        .iter()
        .map(|s| (s.rust.to_owned(), struct_fields(&code, s.rust)))
        .collect();

    // Types: every struct field, every slot (as the table member and as `vk_<slot>_fn`),
    // every alias and the entry function.
    let mut type_checks = Vec::new();
    for (rust, fields) in &rust_fields {
        let c = c_name(rust);
        for (field, ty) in fields {
            type_checks.push(TypeCheck {
                key: format!("{c}.{field}"),
                pointer_expr: format!("&(({c} *)0)->{field}"),
                rust: ty.clone(),
                expected: rust_to_c(ty),
            });
        }
    }
    type_checks.push(TypeCheck {
        key: "vk_driver_table.header".to_owned(),
        pointer_expr: "&((vk_driver_table *)0)->header".to_owned(),
        rust: "VkDriverHeader".to_owned(),
        expected: rust_to_c("VkDriverHeader"),
    });
    for (field, ty) in slot_types() {
        let expected = rust_to_c(&ty);
        type_checks.push(TypeCheck {
            key: format!("vk_driver_table.{field}"),
            pointer_expr: format!("&((vk_driver_table *)0)->{field}"),
            rust: ty.clone(),
            expected: expected.clone(),
        });
        type_checks.push(TypeCheck {
            key: format!("vk_{field}_fn"),
            pointer_expr: format!("(vk_{field}_fn *)0"),
            rust: ty,
            expected,
        });
    }
    type_checks.extend(alias_checks(&code));
    let entry_ty = type_aliases(&code)
        .into_iter()
        .find(|(a, _)| a == "VkEntryFn")
        .map(|(_, ty)| ty)
        .expect("VkEntryFn alias");
    type_checks.push(TypeCheck {
        key: "virtkit_driver_entry".to_owned(),
        pointer_expr: "&virtkit_driver_entry".to_owned(),
        rust: entry_ty.clone(),
        expected: match rust_to_c(&entry_ty) {
            CType::Ptr(f) => *f,
            other => panic!("VkEntryFn is not a function pointer: {other:?}"),
        },
    });

    let constants = expected_constants(&mut BTreeSet::new());
    let program = generate_program(&structs, &type_checks, &constants);

    let scratch = Scratch::new("layout");
    let src = scratch.0.join("layout.c");
    let exe = scratch.0.join("layout");
    std::fs::write(&src, &program).expect("write the C program");
    let include = include_dir();
    if let Err(e) = run(
        Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I"])
            .arg(&include)
            .arg(&src)
            .arg("-o")
            .arg(&exe),
        "compiling the layout program",
    ) {
        panic!(
            "the generated C program does not compile against {}; usually the header lacks or \
             misspells a name the Rust ABI has (see the compiler's message):\n{e}",
            include.join("virtkit/driver.h").display()
        );
    }
    let output = run(&mut Command::new(&exe), "running the layout program")
        .unwrap_or_else(|e| panic!("{e}"));

    let mut printed: BTreeMap<(String, String), String> = BTreeMap::new();
    for line in output.lines() {
        let mut parts = line.splitn(3, ' ');
        let (kind, key, value) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap_or(""),
        );
        printed.insert((kind.to_owned(), key.to_owned()), value.to_owned());
    }
    let mut failures = Vec::new();
    let mut expect = |kind: &str, key: &str, what: &str, rust: String| match printed
        .get(&(kind.to_owned(), key.to_owned()))
    {
        Some(c) if *c == rust => {}
        Some(c) => failures.push(format!(
            "{what} of {key}: C says {}, Rust says {}",
            hex(c),
            hex(&rust)
        )),
        None => failures.push(format!("{what} of {key}: the C program printed nothing")),
    };
    for s in &structs {
        let c = c_name(s.rust);
        expect("size", &c, "sizeof", s.size.to_string());
        expect("align", &c, "alignment", s.align.to_string());
        for f in &s.fields {
            let key = format!("{c}.{}", f.name);
            expect("offset", &key, "offset", f.offset.to_string());
            expect("fsize", &key, "size", f.size.to_string());
        }
    }
    for (name, value) in &constants {
        let rust = match value {
            Expected::Int(v) => v.to_string(),
            Expected::Str(s) => (*s).to_owned(),
        };
        expect("const", name, "value", rust);
    }
    for check in &type_checks {
        if printed
            .get(&("type".to_owned(), check.key.clone()))
            .map(String::as_str)
            != Some("1")
        {
            failures.push(format!(
                "type of {}: the header's type is not compatible with Rust `{}` (expected the C type `{}`)",
                check.key,
                check.rust,
                declare(&check.expected, "")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "include/virtkit/driver.h disagrees with the Rust ABI in {} place(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// The header is plain C99 and usable from C++ (`extern "C"`, no C-only constructs).
#[test]
fn c_header_compiles_as_c99_and_cplusplus() {
    let cc = require!(CC);
    let scratch = Scratch::new("syntax");
    let unit = "#include <virtkit/driver.h>\nint vk_header_check(void);\nint vk_header_check(void) { return (int)sizeof(vk_driver_table); }\n";
    let c_src = scratch.0.join("c99.c");
    std::fs::write(&c_src, unit).unwrap();
    run(
        Command::new(&cc)
            .args([
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
                "-fsyntax-only",
                "-I",
            ])
            .arg(include_dir())
            .arg(&c_src),
        "compiling driver.h as C99",
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let cxx = require!(CXX);
    let cxx_src = scratch.0.join("cxx.cpp");
    std::fs::write(&cxx_src, unit).unwrap();
    run(
        Command::new(&cxx)
            .args([
                "-std=c++11",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
                "-fsyntax-only",
                "-I",
            ])
            .arg(include_dir())
            .arg(&cxx_src),
        "compiling driver.h as C++11",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}
