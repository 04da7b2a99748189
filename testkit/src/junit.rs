//! JUnit XML, the one format every suite reports in (nextest, newman, schemathesis, `node --test`,
//! `local/verify-jwks.py`, and the harness's own checks): counting a report's test cases, and
//! writing one. Read as XML, never scraped from a tool's console output.

use std::fs;
use std::path::Path;

use anyhow::{Context, bail};
use quick_xml::events::{BytesText, Event};
use quick_xml::reader::Reader;
use quick_xml::{Writer, XmlVersion};

/// Test cases of a report, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// A failed test case: its name and the first line of its failure message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub name: String,
    pub message: String,
}

/// What a report says: its counts, and which cases failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub counts: Counts,
    pub failures: Vec<Failure>,
}

/// Counts the `<testcase>` elements of a report: failed when one holds a `<failure>` or an
/// `<error>`, skipped when it holds a `<skipped>`, passed otherwise.
///
/// Nested `<testsuite>`s (node's `describe`, newman's requests) need no special case: only test
/// cases count. A retried test that passed in the end (nextest's `<flakyFailure>`,
/// `<rerunFailure>`) counts as passed; one whose every attempt failed carries `<failure>`.
pub fn count(xml: &str) -> anyhow::Result<Counts> {
    Ok(read(xml)?.counts)
}

/// [`count`], plus the name and message of every failed case.
pub fn read(xml: &str) -> anyhow::Result<Report> {
    let mut reader = Reader::from_str(xml);
    let mut report = Report::default();
    // The <testcase> being read: its name, and its failure message once one shows.
    let mut case: Option<(String, Option<String>, bool)> = None;
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event()
            .with_context(|| format!("not XML (at byte {})", reader.buffer_position()))?;
        match &event {
            Event::Start(element) | Event::Empty(element) => {
                let name = element.local_name();
                let name = name.as_ref();
                if !saw_root {
                    saw_root = true;
                    if name != "testsuites" && name != "testsuite" {
                        bail!("not a JUnit report: the root element is <{name}>");
                    }
                }
                let attribute = |key: &str| {
                    element
                        .try_get_attribute(key)
                        .ok()
                        .flatten()
                        .and_then(|value| value.normalized_value(XmlVersion::Implicit1_0).ok())
                        .map(|value| value.into_owned())
                };
                let self_closing = matches!(event, Event::Empty(_));
                match (name, case.as_mut()) {
                    ("testcase", None) if self_closing => report.counts.passed += 1,
                    ("testcase", None) => {
                        case = Some((attribute("name").unwrap_or_default(), None, false));
                    }
                    ("failure" | "error", Some((_, failure, _))) => {
                        let message = attribute("message").unwrap_or_default();
                        failure.get_or_insert(message.lines().next().unwrap_or("").to_owned());
                    }
                    ("skipped", Some((_, _, skipped))) => *skipped = true,
                    _ => {}
                }
            }
            Event::End(element) if element.local_name().as_ref() == "testcase" => {
                match case.take() {
                    Some((name, Some(message), _)) => {
                        report.counts.failed += 1;
                        report.failures.push(Failure { name, message });
                    }
                    Some((_, None, true)) => report.counts.skipped += 1,
                    Some((_, None, false)) => report.counts.passed += 1,
                    None => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        bail!("an empty report");
    }
    Ok(report)
}

/// [`read`] of a report file.
pub fn read_file(path: &Path) -> anyhow::Result<Report> {
    let xml = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    read(&xml).with_context(|| format!("reading the test cases of {}", path.display()))
}

/// [`count`] of a report file.
pub fn count_file(path: &Path) -> anyhow::Result<Counts> {
    Ok(read_file(path)?.counts)
}

/// One test case the harness itself checked, and why it failed if it did.
pub struct Case {
    pub name: String,
    pub failure: Option<String>,
    pub seconds: f64,
}

impl Case {
    /// A case from the result of a check: `Err` carries the failure message.
    pub fn from_result(name: &str, seconds: f64, result: &anyhow::Result<()>) -> Case {
        Case {
            name: name.to_owned(),
            failure: result.as_ref().err().map(|error| format!("{error:#}")),
            seconds,
        }
    }
}

/// Writes `cases` as a JUnit report of one suite, the format every other suite reports in, so
/// the harness's own checks are counted the same way.
pub fn write(path: &Path, suite: &str, cases: &[Case]) -> anyhow::Result<()> {
    let failures = cases.iter().filter(|case| case.failure.is_some()).count();
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer
        .create_element("testsuites")
        .write_inner_content(|writer| {
            writer
                .create_element("testsuite")
                .with_attribute(("name", suite))
                .with_attribute(("tests", cases.len().to_string().as_str()))
                .with_attribute(("failures", failures.to_string().as_str()))
                .write_inner_content(|writer| {
                    for case in cases {
                        let element = writer
                            .create_element("testcase")
                            .with_attribute(("classname", suite))
                            .with_attribute(("name", case.name.as_str()))
                            .with_attribute(("time", format!("{:.3}", case.seconds).as_str()));
                        match &case.failure {
                            None => {
                                element.write_empty()?;
                            }
                            Some(message) => {
                                element.write_inner_content(|writer| {
                                    writer
                                        .create_element("failure")
                                        .with_attribute(("message", message.as_str()))
                                        .write_text_content(BytesText::new(message))?;
                                    Ok(())
                                })?;
                            }
                        }
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut xml = br#"<?xml version="1.0" encoding="UTF-8"?>"#.to_vec();
    xml.push(b'\n');
    xml.extend(writer.into_inner());
    xml.push(b'\n');
    fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real reports, each from its tool (see tests/fixtures/junit/README.md for how each was made).
    fn fixture(name: &str) -> Counts {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/junit")
            .join(name);
        count_file(&path).unwrap()
    }

    fn counts(passed: u64, failed: u64, skipped: u64) -> Counts {
        Counts {
            passed,
            failed,
            skipped,
        }
    }

    #[test]
    fn written_reports_count_back() {
        let path = std::env::temp_dir().join(format!("junit-{}.xml", uuid::Uuid::new_v4()));
        let cases = [
            Case::from_result("fine", 0.5, &Ok(())),
            Case::from_result(
                "broken <&> \"quoted\"",
                1.0,
                &Err(anyhow::anyhow!("it <broke> & \"badly\"")),
            ),
        ];
        write(&path, "harness", &cases).unwrap();
        let counted = count_file(&path);
        let text = fs::read_to_string(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert_eq!(counted.unwrap(), counts(1, 1, 0), "{text}");
        assert!(text.contains("it &lt;broke&gt; &amp;"), "{text}");
    }

    #[test]
    fn failed_cases_are_named_with_their_message() {
        let report = read(
            r#"<testsuites><testsuite name="s">
                <testcase name="fine"/>
                <testcase name="broken"><failure message="first line&#10;second">body</failure></testcase>
                <testcase name="crashed"><error/></testcase>
            </testsuite></testsuites>"#,
        )
        .unwrap();
        assert_eq!(report.counts, counts(1, 2, 0));
        assert_eq!(
            report.failures,
            [
                Failure {
                    name: "broken".into(),
                    message: "first line".into()
                },
                Failure {
                    name: "crashed".into(),
                    message: String::new()
                },
            ]
        );
    }

    #[test]
    fn not_a_report_is_an_error() {
        assert!(count("").is_err());
        assert!(count("<html><body/></html>").is_err());
        assert!(count("<testsuites><testcase").is_err());
    }

    #[test]
    fn an_empty_report_counts_nothing() {
        assert_eq!(count("<testsuites/>").unwrap(), Counts::default());
    }

    #[test]
    fn nextest_reports_count_failures_and_flaky_tests() {
        assert_eq!(fixture("nextest-passed.xml"), counts(2, 0, 0));
        // A failure, a test that failed once and passed on retry, a pass; skipped tests are
        // not in nextest's report.
        assert_eq!(fixture("nextest-failed.xml"), counts(2, 1, 0));
    }

    #[test]
    fn newman_reports_count_assertions() {
        assert_eq!(fixture("newman-passed.xml"), counts(73, 0, 0));
        assert_eq!(fixture("newman-failed.xml"), counts(1, 53, 0));
    }

    #[test]
    fn schemathesis_reports_count_operations() {
        assert_eq!(fixture("schemathesis-passed.xml"), counts(14, 0, 0));
        assert_eq!(fixture("schemathesis-failed.xml"), counts(11, 3, 0));
    }

    #[test]
    fn node_test_reports_count_tests_inside_describe_blocks() {
        assert_eq!(fixture("node-test.xml"), counts(2, 1, 1));
    }

    #[test]
    fn verify_jwks_reports_count_checks() {
        assert_eq!(fixture("verify-jwks-passed.xml"), counts(16, 0, 0));
        assert_eq!(fixture("verify-jwks-failed.xml"), counts(0, 1, 0));
    }
}
