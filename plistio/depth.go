package plistio

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// maxDepth bounds how deeply containers may nest. The plist decoder
// recurses once per level, and a deep enough input (a million nested
// arrays fit in 15 MB) overflows the goroutine stack, which kills the
// process rather than failing with an error. An AutoPkg environment nests a
// handful of levels.
const maxDepth = 100

// maxNodes bounds the values a binary plist may expand to: it can share one
// object from many places, so a few kilobytes can stand for billions of
// values once decoded.
const maxNodes = 4 << 20

// checkShape refuses, before decoding, a property list that nests deeper
// than maxDepth (or, binary, expands to more than maxNodes values). It only
// scans; anything it cannot make sense of is left to the decoder to reject.
func checkShape(data []byte) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if bytes.HasPrefix(trimmed, []byte("bplist")) {
		return checkBinary(trimmed)
	}
	return checkXML(trimmed)
}

func tooDeep() error {
	return fmt.Errorf("property list nests containers more than %d levels deep; an AutoPkg environment never does, so it was not decoded", maxDepth)
}

// checkXML counts element nesting: each start tag that is not
// self-closing opens a level, each end tag closes one. Comments, CDATA,
// processing instructions and the DOCTYPE are skipped; quoted attribute
// values may hold ">". The plist root element and a dict's value elements
// add a level or two over the container depth, which the limit allows.
func checkXML(b []byte) error {
	depth := 0
	for i := 0; i < len(b); {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			return nil
		}
		i += lt
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipPast(b, i+4, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skipPast(b, i+9, "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipPast(b, i+2, "?>")
		case bytes.HasPrefix(rest, []byte("<!")):
			i = skipDecl(b, i+2)
		case bytes.HasPrefix(rest, []byte("</")):
			depth--
			i = skipPast(b, i+2, ">")
		default:
			end, selfClosing := tagEnd(b, i+1)
			if !selfClosing {
				depth++
				if depth > maxDepth+2 {
					return tooDeep()
				}
			}
			i = end
		}
	}
	return nil
}

// skipPast returns the index after the first sep at or after from, or
// len(b) when there is none.
func skipPast(b []byte, from int, sep string) int {
	if from > len(b) {
		return len(b)
	}
	j := bytes.Index(b[from:], []byte(sep))
	if j < 0 {
		return len(b)
	}
	return from + j + len(sep)
}

// skipDecl skips a <!DOCTYPE …> with an optional internal subset in [ ].
func skipDecl(b []byte, from int) int {
	inSubset := false
	for j := from; j < len(b); j++ {
		switch b[j] {
		case '[':
			inSubset = true
		case ']':
			inSubset = false
		case '>':
			if !inSubset {
				return j + 1
			}
		}
	}
	return len(b)
}

// tagEnd finds the ">" that ends a start tag beginning at from, outside
// quoted attribute values, and reports whether the tag is self-closing.
func tagEnd(b []byte, from int) (int, bool) {
	var quote byte
	for j := from; j < len(b); j++ {
		c := b[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return j + 1, j > from && b[j-1] == '/'
		}
	}
	return len(b), false
}

// checkBinary walks a binary plist's object graph from the top object
// without recursion, measuring each container's height and expanded size
// once. Its reading of the format follows the decoder's (and Apple's
// CFBinaryPList.c): a 32-byte trailer names the offset and reference sizes,
// the object count, the top object and the offset table; arrays (0xA_) and
// sets (0xC_) hold n references, dictionaries (0xD_) n keys and n values; a
// count of 15 is followed by an integer object holding the real count.
func checkBinary(b []byte) error {
	if len(b) < 40 {
		return nil
	}
	t := b[len(b)-32:]
	offSize, refSize := int(t[6]), int(t[7])
	numObjects := binary.BigEndian.Uint64(t[8:])
	top := binary.BigEndian.Uint64(t[16:])
	tableAt := binary.BigEndian.Uint64(t[24:])
	if offSize < 1 || offSize > 8 || refSize < 1 || refSize > 8 || numObjects == 0 || top >= numObjects ||
		tableAt >= uint64(len(b)) || numObjects > (uint64(len(b))-tableAt)/uint64(offSize) {
		return nil // malformed: the decoder says why
	}
	readUint := func(at uint64, n int) (uint64, bool) {
		if at+uint64(n) > uint64(len(b)) {
			return 0, false
		}
		var v uint64
		for _, c := range b[at : at+uint64(n)] {
			v = v<<8 | uint64(c)
		}
		return v, true
	}
	// children returns where a container's references start and how many
	// there are; ok is false for a leaf or anything unreadable.
	children := func(obj uint64) (refsAt uint64, n uint64, ok bool) {
		off, ok := readUint(tableAt+obj*uint64(offSize), offSize)
		if !ok || off >= tableAt {
			return 0, 0, false
		}
		marker := b[off]
		kind := marker & 0xF0
		if kind != 0xA0 && kind != 0xC0 && kind != 0xD0 {
			return 0, 0, false
		}
		n, refsAt = uint64(marker&0x0F), off+1
		if n == 0x0F {
			if refsAt >= uint64(len(b)) || b[refsAt]&0xF0 != 0x10 {
				return 0, 0, false
			}
			size := 1 << (b[refsAt] & 0x0F)
			if size > 8 {
				return 0, 0, false
			}
			if n, ok = readUint(refsAt+1, size); !ok {
				return 0, 0, false
			}
			refsAt += 1 + uint64(size)
		}
		if kind == 0xD0 {
			n *= 2
		}
		if n > (tableAt-min(refsAt, tableAt))/uint64(refSize) {
			return 0, 0, false
		}
		return refsAt, n, true
	}

	const (
		unseen = 0
		open   = -1
	)
	height := make([]int32, numObjects) // 0 unseen, -1 on the path, else 1 + height
	nodes := make([]uint64, numObjects)
	type frame struct {
		obj, refsAt, n, next uint64
		h                    int32
		size                 uint64
	}
	var stack []frame
	push := func(obj uint64) error {
		refsAt, n, ok := children(obj)
		if !ok {
			height[obj], nodes[obj] = 1, 1
			return nil
		}
		if len(stack) >= maxDepth {
			return tooDeep()
		}
		height[obj] = open
		stack = append(stack, frame{obj: obj, refsAt: refsAt, n: n, h: 1, size: 1})
		return nil
	}
	if err := push(top); err != nil {
		return err
	}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next == f.n {
			height[f.obj], nodes[f.obj] = f.h, f.size
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				p := &stack[len(stack)-1]
				p.h = max(p.h, f.h+1)
				p.size += f.size
				if p.size > maxNodes {
					return fmt.Errorf("binary property list expands to more than %d values; an AutoPkg environment never does, so it was not decoded", maxNodes)
				}
			}
			continue
		}
		child, ok := readUint(f.refsAt+f.next*uint64(refSize), refSize)
		f.next++
		if !ok || child >= numObjects {
			return nil // a bad reference: the decoder says where
		}
		switch height[child] {
		case open:
			return nil // a cycle: the decoder refuses it by name
		case unseen:
			if err := push(child); err != nil {
				return err
			}
			if height[child] == open {
				continue // its frame is now on top
			}
		}
		if int(height[child])+len(stack) > maxDepth+1 {
			return tooDeep()
		}
		f = &stack[len(stack)-1]
		f.h = max(f.h, height[child]+1)
		f.size += nodes[child]
		if f.size > maxNodes {
			return fmt.Errorf("binary property list expands to more than %d values; an AutoPkg environment never does, so it was not decoded", maxNodes)
		}
	}
	return nil
}
