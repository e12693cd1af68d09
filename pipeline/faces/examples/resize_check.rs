fn main() {
    let a: Vec<String> = std::env::args().collect();
    let img = marlin_npy::read(&a[1]).unwrap();
    let (h, w) = (img.shape[0], img.shape[1]);
    let px = match img.data { marlin_npy::Data::U8(v) => v, _ => panic!() };
    let (dw, dh): (usize, usize) = (a[2].parse().unwrap(), a[3].parse().unwrap());
    let out = marlin_faces::resize::resize_linear(&px, w, h, dw, dh);
    std::fs::write(&a[4], marlin_npy::encode_u8(&[dh, dw, 3], &out)).unwrap();
}
