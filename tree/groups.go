package tree

import "slices"

// The all-points job's query groups: points close in space (by index band
// in predecessor mode) that walk the tree together.

// allGroups returns the query groups of the all-points job, sorting the
// points on opt.Pool (nil: on the caller's goroutine) and adding its jobs
// to use. A predecessor job on a flat tree takes narrower bands
// (subBands).
func (t *Tree) allGroups(opt KNNOptions, use *usage) []group {
	var groups []group
	mi := newMortonIndex(t.m.Data(), opt.Pool, use)
	var key func(int32) int32 // predecessor mode: the order groups follow
	sub := 0
	if opt.Predecessor {
		key = t.key
		if t.flat() {
			sub = subBands
		}
	}
	cg := mi.groups(opt.QueryBlock, key, sub, opt.Pool, use)
	if opt.Predecessor {
		return t.predGroups(cg, newMortonSeed(mi, 4*opt.QueryBlock))
	}
	for g, ids := range cg {
		// Seed with the neighbouring groups too, so that queries at a
		// group's edge start with a k-th distance near their final one
		// (the group's own points first: see predSeed on the order).
		seed := slices.Clone(ids)
		for _, h := range []int{g - 1, g + 1} {
			if h >= 0 && h < len(cg) {
				seed = append(seed, cg[h]...)
			}
		}
		groups = append(groups, group{qids: ids, rows: ids, seed: seed, self: true, seeded: true, maxQ: ids[len(ids)-1]})
	}
	return groups
}

// predGroups returns the groups of the predecessor job, cg being its
// groups (each from one band of keys, by ascending key), their seeds
// drawn from near. A group's queries share their
// region of space but, by their band, few of their predecessors: the points
// of lower bands in that region are as many as the group's own. So each
// group is seeded (see predSeed) with its own points and the points nearest
// its middle in the Morton order of all points, below its largest key:
// the k-th distances start near their final values, and the walk, which
// prunes by them, enters far fewer nodes (at n = 262,144, k = 30: 3.4x
// fewer walk distances than a seed of the group and the groups beside it in
// its band).
func (t *Tree) predGroups(cg [][]int32, near *mortonSeed) []group {
	groups := make([]group, len(cg))
	for g, ids := range cg {
		keys := t.keysOf(ids)
		groups[g] = group{qids: ids, rows: ids, keys: keys, self: true, seeded: true, pred: true, maxQ: keys[len(keys)-1], near: near}
	}
	return groups
}

// keysOf returns the keys of ids (Tree.key): ids itself without a Rank.
func (t *Tree) keysOf(ids []int32) []int32 {
	if t.rank == nil {
		return ids
	}
	keys := make([]int32, len(ids))
	for i, z := range ids {
		keys[i] = t.key(z)
	}
	return keys
}

// subBands: a predecessor job on a flat tree (Tree.flat) cuts each index
// band into 2^subBands. A group's queries meet, in its leaf tiles, every
// candidate below the group's largest key, and refuse those above their
// own: with whole bands (the top one holds half the points) that wasted
// 25 % of the leaf pairs on structureless data (d = 8, lengthscale 1,
// 32,768 points: 709.5 million distances, 559.1 million with 8
// sub-bands). Where the tree prunes, a narrower band spreads a group's
// queries wider in space: on the structured goal-1 job (d = 2, lengthscale
// 0.1) 8 sub-bands took 147.9 million distances against 62.1 million, and
// on weakly structured data (d = 4, lengthscale 0.3, m = 256, k = 30)
// 1.97e9 against 2.01e9 at 65,536 points but 6.67e9 against 5.90e9 at
// 131,072; those trees hang 1-5 % of their points from the root, the
// structureless one 99.6 %.
const subBands = 3

// flat reports whether at least half the points hang from the root as
// leaves, for which the tree prunes nothing: structureless data, whose
// nets the build hangs flat (see flatAt).
func (t *Tree) flat() bool {
	leaves := 0
	for _, z := range t.Children(int(t.root)) {
		if t.childOff[z+1] == t.childOff[z] {
			leaves++
		}
	}
	return 2*leaves >= t.N()
}
