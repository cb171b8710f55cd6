// Test fixture: a plain JavaScript CpuPool task module (no tsx needed to load it).
export default function double(n) {
  return n * 2;
}
