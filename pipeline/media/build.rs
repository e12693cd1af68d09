//! Links FFmpeg's libswscale and libavutil (Debian: libswscale-dev), the converter that made the
//! official frames, and libjpeg-turbo's TurboJPEG (libturbojpeg0-dev), the JPEG decoder behind
//! OpenCV's `imread`.
fn main() {
    for (lib, version, package) in [
        ("libswscale", "6", "libswscale-dev"),
        ("libavutil", "57", "libswscale-dev"),
        ("libturbojpeg", "2", "libturbojpeg0-dev"),
    ] {
        if let Err(e) = pkg_config::Config::new().atleast_version(version).probe(lib) {
            panic!("{lib} >= {version} not found ({e}); install it: apt-get install {package} (or run tools/setup.sh)");
        }
    }
}
