package policy

// What the external tests (package policy_test) reach that the package
// keeps to itself.
var ReadObject = readObject

const ObjectPlace = objectPlace
