//! The node: type, version, host name, capabilities, node information, limits, security model,
//! native formats. Read on the read-only connection: reads must work there.

use virtkit::{ErrorCode, Op};
use virtkit_xml::Capabilities;

use crate::suite::{Ctx, Verdict, describe, ensure, is_panic, ok};

pub(crate) fn checks(ctx: &mut Ctx) {
    ctx.check("node/type", &[Op::GetType], |c| {
        let t = ok("virConnectGetType", c.ro()?.get_type())?;
        ensure!(!t.trim().is_empty(), "the hypervisor type is empty");
        Ok(())
    });
    ctx.check("node/version", &[Op::GetVersion], |c| {
        ok("virConnectGetVersion", c.ro()?.version())?;
        Ok(())
    });
    ctx.check("node/hostname", &[Op::GetHostname], |c| {
        let h = ok("virConnectGetHostname", c.ro()?.hostname())?;
        ensure!(!h.trim().is_empty(), "the host name is empty");
        Ok(())
    });
    ctx.check("node/capabilities", &[Op::GetCapabilities], |c| {
        let xml = ok("virConnectGetCapabilities", c.ro()?.capabilities())?;
        let caps = Capabilities::parse(&xml)
            .map_err(|e| Verdict::Fail(format!("the capabilities XML does not parse: {e}")))?;
        for g in &caps.guests {
            ensure!(
                !g.os_type.is_empty() && !g.arch.name.is_empty(),
                "a <guest> lacks its os_type or arch"
            );
        }
        Ok(())
    });
    ctx.check("node/info", &[Op::NodeGetInfo], |c| {
        let n = ok("virNodeGetInfo", c.ro()?.node_info())?;
        ensure!(n.cpus >= 1, "the node has {} CPUs", n.cpus);
        ensure!(n.memory_kib > 0, "the node has no memory");
        ensure!(
            n.nodes >= 1 && n.sockets >= 1 && n.cores >= 1 && n.threads >= 1,
            "the topology {} cells x {} sockets x {} cores x {} threads has a zero",
            n.nodes,
            n.sockets,
            n.cores,
            n.threads
        );
        ensure!(!n.model.is_empty(), "the CPU model is empty");
        Ok(())
    });
    ctx.check("node/max-vcpus", &[Op::GetMaxVcpus], |c| {
        let conn = c.ro()?;
        let n = ok("virConnectGetMaxVcpus(NULL)", conn.max_vcpus(""))?;
        ensure!(n >= 1, "the maximum is {n} vCPUs");
        if let Ok(g) = c.guest() {
            let m = ok(
                format!("virConnectGetMaxVcpus({:?})", g.domain_type),
                conn.max_vcpus(&g.domain_type),
            )?;
            ensure!(
                m >= 1,
                "the maximum for {} domains is {m} vCPUs",
                g.domain_type
            );
        }
        Ok(())
    });
    ctx.check("node/security-model", &[Op::NodeGetSecurityModel], |c| {
        let (model, doi) = ok("virNodeGetSecurityModel", c.ro()?.security_model())?;
        ensure!(
            model.is_empty() || !model.trim().is_empty(),
            "the model is blank: {model:?}"
        );
        ensure!(
            !model.is_empty() || doi.is_empty(),
            "no model, but a DOI {doi:?}"
        );
        Ok(())
    });
    for (name, op) in [
        ("native/from-unknown-format", Op::DomainXmlFromNative),
        ("native/to-unknown-format", Op::DomainXmlToNative),
    ] {
        ctx.check(name, &[op], |c| {
            // The conversions are refused on a read-only connection (libvirt's rule, checked by
            // read-only/*): they need the read-write one, though they change nothing.
            let conn = c.rw()?;
            let xml = c.guest().map(|g| g.xml("virtkit-conformance-native", uuid::Uuid::new_v4())).unwrap_or_default();
            let r = if op == Op::DomainXmlFromNative {
                conn.domain_xml_from_native("virtkit-conformance-no-such-format", "x")
            } else {
                conn.domain_xml_to_native("virtkit-conformance-no-such-format", &xml)
            };
            match r {
                Ok(_) => Err(Verdict::Fail("an unknown native format was accepted".into())),
                Err(e) if is_panic(&e) => Err(Verdict::Fail(describe(&e))),
                Err(e) if matches!(e.code, ErrorCode::InvalidArg | ErrorCode::ConfigUnsupported) => Ok(()),
                Err(e) if e.code == ErrorCode::NoSupport && forwarded_to(&e.message, c.driver.name()).is_some() => {
                    Err(Verdict::Skip(format!(
                        "the connection forwards the call to a driver that does not implement it: {}",
                        e.message
                    )))
                }
                Err(e) => Err(Verdict::Fail(format!(
                    "an unknown native format should give invalid-arg or config-unsupported, got {}",
                    describe(&e)
                ))),
            }
        });
    }
}

/// The driver a no-support error names when it is not `this` one: the loader's message ends
/// with `(driver 'NAME')`, so a no-support error naming another driver came from the far side of
/// a driver that forwards calls (the remote driver, whose daemon opened a driver lacking the
/// operation), not from the plugin under test.
fn forwarded_to<'m>(message: &'m str, this: &str) -> Option<&'m str> {
    let inner = message.strip_suffix("')")?;
    let (_, name) = inner.rsplit_once("(driver '")?;
    (name != this && !name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::forwarded_to;

    #[test]
    fn a_no_support_error_names_the_driver_that_lacked_the_operation() {
        let m = "this function is not supported by the connection driver: virConnectDomainXMLFromNative (driver 'test')";
        assert_eq!(forwarded_to(m, "remote"), Some("test"));
        assert_eq!(forwarded_to(m, "test"), None);
        assert_eq!(forwarded_to("not supported", "remote"), None);
    }
}
