fn main() {
    let a: Vec<String> = std::env::args().collect();
    let det = marlin_faces::retinaface::RetinaFace::load(std::path::Path::new(&a[1]), 2).unwrap();
    let img = marlin_npy::read(&a[2]).unwrap();
    let (h, w) = (img.shape[1], img.shape[2]);
    let px = match img.data { marlin_npy::Data::U8(v) => v[..h*w*3].to_vec(), _ => panic!() };
    let t = std::time::Instant::now();
    let raw = det.raw(&px, w, h, marlin_faces::retinaface::PixelOrder::Rgb).unwrap();
    eprintln!("raw {:?}", t.elapsed());
    let flat = |v: Vec<f32>, c: usize| (vec![v.len()/c, c], v);
    let (s, d) = flat(raw.loc.iter().flatten().copied().collect(), 4); marlin_npy::write_f32(format!("{}.loc.npy", a[3]), &s, &d).unwrap();
    let (s, d) = flat(raw.conf.iter().flatten().copied().collect(), 2); marlin_npy::write_f32(format!("{}.conf.npy", a[3]), &s, &d).unwrap();
    let (s, d) = flat(raw.landmarks.iter().flatten().copied().collect(), 10); marlin_npy::write_f32(format!("{}.lm.npy", a[3]), &s, &d).unwrap();
    for d in det.detect(&px, w, h, marlin_faces::retinaface::PixelOrder::Rgb).unwrap() { println!("{} {} {} {} {}", d.x1, d.y1, d.x2, d.y2, d.score); }
}
