// outside reports whether token j lies outside row r's sampling support, read from the sparse
// encoding of core.EncodeSupport in the int buffer sup[] (declared by the including shader):
// header entry r is the distance from r to the row's first entry; a row's entries are none
// (every token), one −(id+1) (every token but id), or ascending kept ids (binary search).
bool outside(uint r, uint j) {
    int lo = int(r) + sup[r], hi = int(r) + 1 + sup[r + 1];
    if (lo == hi) return false;
    int e = sup[lo];
    if (e < 0) return int(j) == -e - 1;
    int end = hi;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (sup[mid] < int(j)) lo = mid + 1; else hi = mid;
    }
    return lo == end || sup[lo] != int(j);
}
