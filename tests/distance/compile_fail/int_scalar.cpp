// Must not compile: the distance functions support float and double only.
#include <embedkit/distance/pair.hpp>

int main() {
    const Eigen::VectorXi a = Eigen::VectorXi::Ones(3);
    return static_cast<int>(embedkit::dot(a, a));
}
