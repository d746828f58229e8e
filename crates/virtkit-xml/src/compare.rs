//! Semantic comparison: two documents are equivalent when they parse to the same model,
//! whatever their attribute quoting, whitespace, element order or UUID spelling.

use std::fmt::Debug;

use crate::capabilities::Capabilities;
use crate::domain::parse_domain_str;
use crate::error::Result;
use crate::network::parse_network_str;

/// Whether two domain documents describe the same domain. When neither has a `<uuid>`, the
/// generated UUIDs are not compared.
pub fn equivalent_domains(a: &str, b: &str) -> Result<bool> {
    let (a, a_has_uuid) = parse_domain_str(a)?;
    let (mut b, b_has_uuid) = parse_domain_str(b)?;
    if !a_has_uuid && !b_has_uuid {
        b.uuid = a.uuid;
    }
    Ok(a == b)
}

/// Whether two network documents describe the same network (generated UUIDs aside, as for
/// [`equivalent_domains`]).
pub fn equivalent_networks(a: &str, b: &str) -> Result<bool> {
    let (a, a_has_uuid) = parse_network_str(a)?;
    let (mut b, b_has_uuid) = parse_network_str(b)?;
    if !a_has_uuid && !b_has_uuid {
        b.uuid = a.uuid;
    }
    Ok(a == b)
}

/// Whether two capabilities documents describe the same capabilities.
pub fn equivalent_capabilities(a: &str, b: &str) -> Result<bool> {
    Ok(Capabilities::parse(a)? == Capabilities::parse(b)?)
}

/// `None` when the two values are equal; otherwise the lines of their pretty `Debug` forms that
/// differ (`-` for `a`, `+` for `b`), for readable test failures.
pub fn model_difference<T: Debug + PartialEq>(a: &T, b: &T) -> Option<String> {
    if a == b {
        return None;
    }
    let (da, db) = (format!("{a:#?}"), format!("{b:#?}"));
    let (la, lb): (Vec<&str>, Vec<&str>) = (da.lines().collect(), db.lines().collect());
    let prefix = la.iter().zip(&lb).take_while(|(x, y)| x == y).count();
    let suffix = la[prefix..]
        .iter()
        .rev()
        .zip(lb[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = String::new();
    for l in &la[prefix..la.len() - suffix] {
        out.push_str(&format!("-{l}\n"));
    }
    for l in &lb[prefix..lb.len() - suffix] {
        out.push_str(&format!("+{l}\n"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_does_not_matter() {
        let a = "<domain type='xen'><name>a</name><uuid>4DEA22B31D52D8F32516782E98AB3FA0</uuid>\
                 <memory>1024</memory><os><type>hvm</type></os>\
                 <devices><interface type='bridge'><source bridge='b'/></interface><disk type='file'><source file='/f'/><target dev='hda'/></disk></devices></domain>";
        let b = "<domain type=\"xen\">\n <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n <name>a</name>\n\
                 <memory unit='MiB'>1</memory><currentMemory>1024</currentMemory><os><type>hvm</type></os>\
                 <on_reboot>restart</on_reboot><clock offset='utc'/>\
                 <devices><disk type='file' device='disk'><source file='/f'/><target dev='hda'/></disk><interface type='bridge'><source bridge='b'/></interface></devices></domain>";
        assert!(equivalent_domains(a, b).unwrap());
        let c = b.replace("<name>a</name>", "<name>c</name>");
        assert!(!equivalent_domains(a, &c).unwrap());
        assert!(equivalent_domains(a, "<domain/>").is_err());
    }

    #[test]
    fn missing_uuids_compare_equal() {
        let a = "<domain type='test'><name>a</name><memory>1</memory><os><type>hvm</type></os></domain>";
        assert!(equivalent_domains(a, a).unwrap());
        let n = "<network><name>n</name></network>";
        assert!(equivalent_networks(n, n).unwrap());
    }

    #[test]
    fn difference_lines() {
        assert_eq!(model_difference(&1, &1), None);
        let d = model_difference(&vec![1, 2, 3], &vec![1, 5, 3]).unwrap();
        assert_eq!(d, "-    2,\n+    5,\n");
    }
}
