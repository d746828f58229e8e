//! libvirt's conf test data: every case of ../shared/corpus/conf/cases.tsv parses and
//! re-serialises byte for byte.

use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/conf")
}

#[test]
fn corpus_files_reserialise_byte_exact() {
    let dir = corpus();
    let cases = std::fs::read_to_string(dir.join("cases.tsv"))
        .unwrap_or_else(|e| panic!("cannot read the conf corpus in {}: {e}", dir.display()));
    let mut n = 0;
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (input, expected) = (cols[0], cols[1]);
        let text = std::fs::read_to_string(dir.join(input)).unwrap();
        let want = std::fs::read_to_string(dir.join(expected)).unwrap();
        let conf = virtkit_conf::Conf::parse(&text).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(conf.to_string(), want, "{input}");
        // And the output is a fixed point.
        assert_eq!(virtkit_conf::Conf::parse(&want).unwrap().to_string(), want);
        n += 1;
    }
    assert!(n > 0, "no case in cases.tsv");
}
