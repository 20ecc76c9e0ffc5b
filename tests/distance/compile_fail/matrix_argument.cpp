// Must not compile: the pair functions take vectors, not matrices.
#include <embedkit/distance/pair.hpp>

int main() {
    const Eigen::MatrixXf a = Eigen::MatrixXf::Ones(3, 3);
    return static_cast<int>(embedkit::l1(a, a));
}
