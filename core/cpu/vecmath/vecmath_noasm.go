//go:build !amd64 || purego

package vecmath

// hasAsm is false here: no assembly exists for this architecture or the
// purego build tag excluded it. The stubs below are never called.
const hasAsm = false

func expAsm(dst, src []float32)                               { panic("vecmath: no assembly") }
func expSubSumAsm(dst, src []float32, shift float32) float32  { panic("vecmath: no assembly") }
func siluMulAsm(out, gate, up []float32)                      { panic("vecmath: no assembly") }
func siluMulBackwardAsm(dGate, dUp, dOut, gate, up []float32) { panic("vecmath: no assembly") }
func sumSquaresAsm(x []float32) float32                       { panic("vecmath: no assembly") }
func scaleMulAsm(out, x, w []float32, s float32)              { panic("vecmath: no assembly") }
func maxAsm(x []float32) float32                              { panic("vecmath: no assembly") }
func rotateAsm(x, y, c, s []float32, sign float32)            { panic("vecmath: no assembly") }
