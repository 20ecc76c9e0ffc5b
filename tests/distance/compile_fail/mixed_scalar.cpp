// Must not compile: the Eigen forms take the same scalar type on both sides.
#include <embedkit/distance/pair.hpp>

int main() {
    const Eigen::VectorXf a = Eigen::VectorXf::Ones(3);
    const Eigen::VectorXd b = Eigen::VectorXd::Ones(3);
    return static_cast<int>(embedkit::l2(a, b));
}
