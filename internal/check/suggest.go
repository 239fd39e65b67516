package check

import "strings"

// suggest names the policy's kind that an object of a kind the policy does
// not cover was probably meant to be: the same kind in another API group
// (apiVersion: v1 on a Deployment), or a kind a typo or two away
// (Deploymnet). It returns "" when nothing is close.
func (c *Checker) suggest(group, kind string) string {
	best, bestDist := "", 3
	for _, k := range c.Policy.Kinds() {
		apiVersion := k.Version
		if k.Group != "" {
			apiVersion = k.Group + "/" + k.Version
		}
		if k.Group == group && k.Kind == kind {
			continue
		}
		if strings.EqualFold(k.Kind, kind) {
			return apiVersion + " " + k.Kind
		}
		if len(kind) < 4 {
			continue
		}
		if d := distance(strings.ToLower(k.Kind), strings.ToLower(kind)); d < bestDist {
			best, bestDist = apiVersion+" "+k.Kind, d
		}
	}
	return best
}

// distance is the optimal string alignment distance of a and b: the edits
// (insert, delete, substitute, swap two neighbours) that turn one into the
// other.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
