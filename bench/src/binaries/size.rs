//! A release binary's size as Lambda takes it: stripped, then zipped alone as `bootstrap`.

use std::io::{Cursor, Write as _};
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, ensure};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// Bytes of the stripped binary and of its zip.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub stripped_bytes: u64,
    pub zipped_bytes: u64,
}

/// Strips a copy of `binary` in `scratch` with binutils' `strip --strip-all` (the release profile
/// strips symbols already; this makes sure nothing else is left) and zips it.
pub fn measure(binary: &Path, scratch: &Path) -> anyhow::Result<Sizes> {
    let copy = scratch.join("bootstrap");
    std::fs::copy(binary, &copy).with_context(|| format!("copying {}", binary.display()))?;
    let status = testkit::process::command("strip")
        .arg("--strip-all")
        .arg(&copy)
        .stdin(Stdio::null())
        .status()
        .context("running strip (binutils; apt-get install binutils)")?;
    ensure!(
        status.success(),
        "strip --strip-all {} failed ({status})",
        copy.display()
    );
    let stripped = std::fs::read(&copy).with_context(|| format!("reading {}", copy.display()))?;
    let zipped = zip_as_bootstrap(&stripped)?;
    Ok(Sizes {
        stripped_bytes: stripped.len() as u64,
        zipped_bytes: zipped.len() as u64,
    })
}

/// A zip holding `binary` as the executable `bootstrap`, the file the `provided.al2023` runtime
/// starts; deflated at level 6, as `sam deploy` (Python's zipfile) and `zip` deflate by default.
pub fn zip_as_bootstrap(binary: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .unix_permissions(0o755);
    archive.start_file("bootstrap", options)?;
    archive.write_all(binary)?;
    Ok(archive.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn the_zip_holds_the_binary_as_an_executable_deflated_bootstrap() {
        let binary: Vec<u8> = b"\x7fELF pretend code ".repeat(4096);
        let zipped = zip_as_bootstrap(&binary).unwrap();
        assert!(
            zipped.len() < binary.len() / 10,
            "deflated: {} bytes",
            zipped.len()
        );

        let mut archive = zip::ZipArchive::new(Cursor::new(zipped)).unwrap();
        assert_eq!(archive.len(), 1, "one file");
        let mut file = archive.by_name("bootstrap").unwrap();
        assert_eq!(file.compression(), CompressionMethod::Deflated);
        assert_eq!(
            file.unix_mode().map(|mode| mode & 0o777),
            Some(0o755),
            "executable"
        );
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        assert!(content == binary, "the binary, unchanged");
    }

    #[test]
    fn a_real_binary_is_measured_smaller_once_stripped_and_zipped() {
        // Any ELF file will do: the test binary itself, which carries symbols and debug info.
        let binary = std::env::current_exe().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let sizes = measure(&binary, scratch.path()).unwrap();
        let original = std::fs::metadata(&binary).unwrap().len();
        assert!(sizes.stripped_bytes < original, "{sizes:?} of {original}");
        assert!(sizes.zipped_bytes < sizes.stripped_bytes, "{sizes:?}");
    }
}
