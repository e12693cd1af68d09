//! Links FFmpeg's libswscale and libavutil (Debian: libswscale-dev), the converter that made the
//! official frames.
fn main() {
    for (lib, version) in [("libswscale", "6"), ("libavutil", "57")] {
        if let Err(e) = pkg_config::Config::new().atleast_version(version).probe(lib) {
            panic!("{lib} >= {version} not found ({e}); install it: apt-get install libswscale-dev");
        }
    }
}
