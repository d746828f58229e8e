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
//! Nothing can be forgotten silently: the slot list comes from [`virtkit_abi::OPS`], and the
//! test reads `abi/src/lib.rs` to check that every `#[repr(C)]` struct, field, type alias, enum
//! variant and constant there is one this test compares. (The source is only read for that
//! coverage and for the Rust spelling of field types; every number compared comes from the
//! compiled crate.)
//!
//! Without a C compiler the test reports that it is skipped, and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use virtkit_abi::{
    OP_COUNT, OPS, VIRTKIT_DRIVER_ENTRY, VK_ABI_MAJOR, VK_ABI_MINOR, VK_CAP_WORDS, VK_DECLINED,
    VK_DRIVER_NEEDS_ROOT, VK_DRIVER_STACK_MEMBER, VK_DRIVER_THREAD_SAFE, VK_HEADER_SIZE, VK_MAGIC,
    VK_MAX_OPS, VK_OK, VK_OPEN_READ_ONLY, VK_SLOT_SIZE, VK_TABLE_SIZE, VkDomainInfo, VkDomainRef,
    VkDomainSink, VkDomainState, VkDriverHeader, VkDriverTable, VkErrorCode, VkErrorSink,
    VkIntSink, VkNetworkRef, VkNetworkSink, VkNodeInfo, VkOpRank, VkStr, VkStrSink, VkVcpuInfo,
    VkVcpuSink, VkVcpuState, error_domain,
};
use virtkit_abi::{
    VK_HOST_PARSE_NEW_DEFINITION, VK_HOST_XML_INACTIVE, VK_HOST_XML_SECURE, VkDiskView,
    VkDomainEdit, VkDomainView, VkHostServices, VkInterfaceView, VkNetworkIpView, VkNetworkView,
    VkUriParam, VkUriView,
};

// The C-facing part of the crate: lib.rs and the host services (host.rs, <virtkit/host.h>).
const ABI_SOURCE: &str = concat!(
    include_str!("../src/lib.rs"),
    include_str!("../src/host.rs")
);
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
// Reading the Rust source: coverage and type spelling only
// ------------------------------------------------------------------------------------------

/// The source without comments or attribute lines.
fn code_only(src: &str) -> String {
    let mut out = String::new();
    for line in src.lines() {
        if line.trim_start().starts_with("#[") {
            continue;
        }
        let mut in_str = false;
        let mut prev = '\0';
        let mut cut = line.len();
        for (i, c) in line.char_indices() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            } else if !in_str && c == '/' && prev == '/' {
                cut = i - 1;
                break;
            }
            prev = c;
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

/// The text between the `{` that ends `opening` (which must start a line) and its `}`.
fn block<'a>(code: &'a str, opening: &str) -> Option<&'a str> {
    let start = code
        .match_indices(opening)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || code.as_bytes()[i - 1] == b'\n')?;
    let open = start + opening.len() - 1;
    assert_eq!(&code[open..=open], "{", "`{opening}` must end with a brace");
    let mut depth = 0usize;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&code[open + 1..open + i]);
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces after `{opening}` in {ABI_SOURCE_NAME}");
}

/// Splits at `sep` outside parentheses and brackets; drops empty pieces.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '<' => depth += 1,
            ')' | ']' => depth -= 1,
            '>' if !text[..i].ends_with('-') => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// Names of the items starting a line with `prefix` (e.g. `pub struct `), up to `terminator`.
fn item_names(code: &str, prefix: &str, terminators: &[char]) -> Vec<String> {
    code.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| rest.split(terminators).next().unwrap().trim().to_owned())
        .collect()
}

/// `(field, Rust type)` of a struct, in order.
fn struct_fields(code: &str, rust: &str) -> Vec<(String, String)> {
    let body = block(code, &format!("pub struct {rust} {{"))
        .unwrap_or_else(|| panic!("no `pub struct {rust}` in {ABI_SOURCE_NAME}"));
    split_top(body, ',')
        .into_iter()
        .map(|f| {
            let f = f.strip_prefix("pub ").unwrap_or(f);
            let (name, ty) = f.split_once(':').expect("a field is `name: type`");
            (name.trim().to_owned(), ty.trim().to_owned())
        })
        .collect()
}

/// `(field, Rust type)` of every slot in the `define_ops!` invocation, in order.
fn slot_types(code: &str) -> Vec<(String, String)> {
    let body = block(code, "define_ops! {")
        .unwrap_or_else(|| panic!("no `define_ops!` invocation in {ABI_SOURCE_NAME}"));
    split_top(body, ';')
        .into_iter()
        .map(|entry| {
            // `<index> <Variant> <field> "<api>" <since> <Kind>: <type>`
            let (head, ty) = entry.split_once(':').expect("an op entry has `Kind: type`");
            let field = head
                .split_whitespace()
                .nth(2)
                .expect("an op entry names its field");
            (field.to_owned(), ty.trim().to_owned())
        })
        .collect()
}

/// `(name, Rust type)` of every `pub type` alias.
fn type_aliases(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("\npub type ") {
        let rest = &code[i + "\npub type ".len()..];
        let (name, rest) = rest.split_once('=').expect("`pub type NAME = TYPE;`");
        let ty = split_top(rest, ';')
            .into_iter()
            .next()
            .expect("an alias has a type");
        out.push((name.trim().to_owned(), ty.to_owned()));
    }
    out
}

/// Variant names of a fieldless `pub enum`.
fn enum_variants(code: &str, rust: &str) -> Vec<String> {
    let body = block(code, &format!("pub enum {rust} {{"))
        .unwrap_or_else(|| panic!("no `pub enum {rust}` in {ABI_SOURCE_NAME}"));
    split_top(body, ',')
        .into_iter()
        .map(|v| v.split('=').next().unwrap().trim().to_owned())
        .collect()
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

/// The C type a Rust type of the ABI must have in the header.
fn rust_to_c(ty: &str) -> CType {
    let ty = ty.trim();
    if let Some(inner) = ty.strip_prefix("Option<").and_then(|t| t.strip_suffix('>')) {
        // Only nullable function pointers are wrapped in Option.
        return rust_to_c(inner);
    }
    if let Some(rest) = ty.strip_prefix("unsafe extern \"C\" fn(") {
        let close = rest.rfind(')').expect("a fn type has a parameter list");
        let params = split_top(&rest[..close], ',')
            .into_iter()
            .map(|p| rust_to_c(p.split_once(':').expect("a parameter is `name: type`").1))
            .collect();
        let ret = match rest[close + 1..].trim().strip_prefix("->") {
            Some(ret) => rust_to_c(ret),
            None => CType::Named("void".to_owned()),
        };
        return CType::Ptr(Box::new(CType::Fn(Box::new(ret), params)));
    }
    for (prefix, konst) in [("*const ", true), ("*mut ", false)] {
        if let Some(pointee) = ty.strip_prefix(prefix) {
            // C passes an array as a pointer to its first element: same address, same ABI.
            let pointee = match rust_to_c(pointee) {
                CType::Array(elem, _) => *elem,
                other => other,
            };
            let pointee = if konst {
                CType::Const(Box::new(pointee))
            } else {
                pointee
            };
            return CType::Ptr(Box::new(pointee));
        }
    }
    if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let (elem, len) = inner.split_once(';').expect("an array type is `[T; N]`");
        return CType::Array(Box::new(rust_to_c(elem)), len.trim().to_owned());
    }
    let named = match ty {
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
        t if t.starts_with("Vk") && t.chars().all(|c| c.is_ascii_alphanumeric()) => {
            return CType::Named(c_name(t));
        }
        other => panic!("{THIS_FILE}: no C spelling for the Rust type `{other}`; extend rust_to_c"),
    };
    CType::Named(named.to_owned())
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

fn c_compiler(test: &str) -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    match Command::new(&cc).arg("--version").output() {
        Ok(out) if out.status.success() => Some(cc),
        Ok(out) => {
            eprintln!("SKIPPED {test}: `{cc} --version` failed ({})", out.status);
            None
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: no C compiler (`{cc}`: {e}); install one or set CC");
            None
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
    let code = code_only(ABI_SOURCE);
    let mut missing = Vec::new();

    let covered: BTreeMap<&str, Vec<&str>> = struct_layouts()
        .iter()
        .map(|s| (s.rust, s.fields.iter().map(|f| f.name).collect()))
        .collect();
    let in_source: BTreeSet<String> = item_names(&code, "pub struct ", &[' ', '{', '<', '('])
        .into_iter()
        .filter(|n| n.starts_with("Vk"))
        .collect();
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

    let slots: Vec<String> = slot_types(&code).into_iter().map(|(f, _)| f).collect();
    let ops: Vec<&str> = OPS.iter().map(|op| op.field).collect();
    if !slots.iter().map(String::as_str).eq(ops.iter().copied()) {
        missing.push(format!(
            "define_ops! slots {slots:?} differ from OPS {ops:?}"
        ));
    }

    let mut covered_consts = BTreeSet::new();
    expected_constants(&mut covered_consts);
    for name in item_names(&code, "pub const ", &[':']) {
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
    let domains: Vec<String> = item_names(
        block(&code, "pub mod error_domain {").expect("an error_domain module"),
        "    pub const ",
        &[':'],
    );
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
fn alias_checks(code: &str) -> Vec<TypeCheck> {
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
    let Some(cc) = c_compiler("c_header_matches_rust_layout") else {
        return;
    };
    let code = code_only(ABI_SOURCE);

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
    for (field, ty) in slot_types(&code) {
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
    let Some(cc) = c_compiler("c_header_compiles_as_c99_and_cplusplus") else {
        return;
    };
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

    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_owned());
    if Command::new(&cxx).arg("--version").output().is_err() {
        eprintln!("SKIPPED the C++ half of c_header_compiles_as_c99_and_cplusplus: no `{cxx}`");
        return;
    }
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
